"""What steps, learning rate and LoRA rank buy: each setting trains an adapter with the pipeline's own trainer
on the packaged SmolLM2 and scores its held-out assistant-token loss against the base model's, in one run.

Prints one table row per setting: steps, epochs over the training split, learning rate, rank, training
seconds, held-out loss of the adapter, of the base model, and the change in percent (the demo's target is
-20% or better for both adapters).

    .venv/bin/python bench/adapter_fidelity.py --adapter core --grid 16:3e-4:16 16:1e-3:16 24:1e-3:16
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


from peft import PeftModel

from persona_pipeline import cpu
from persona_pipeline.settings import PROJECT_DIR, Paths
from persona_pipeline.training.adapters import ADAPTERS
from persona_pipeline.training.base_model import load_model, load_tokenizer, prepare_base_model
from persona_pipeline.training.heldout import assistant_token_loss
from persona_pipeline.training.lora import train_lora
from persona_pipeline.sft.adapter_data import build_sft_dataset, load_heldout
from persona_pipeline.training.settings import TrainingSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", choices=list(ADAPTERS), default="core")
    parser.add_argument("--grid", nargs="+", default=["16:3e-4:16", "16:1e-3:16", "16:2e-3:16"],
                        help="settings as steps:learning_rate:rank")
    args = parser.parse_args()
    spec = ADAPTERS[args.adapter]
    work = Path(tempfile.mkdtemp(prefix="persona-fidelity-"))
    try:
        paths = Paths.resolve(PROJECT_DIR / "raw_materials", work / "data")
        base = prepare_base_model()
        settings = TrainingSettings()
        dataset = build_sft_dataset(spec, paths, settings, base).dataset
        heldout = load_heldout(spec, settings)
        tokenizer = load_tokenizer(base)
        base_loss = assistant_token_loss(load_model(base), tokenizer, heldout, settings.max_seq_length)
        train_size = len(dataset.data["train"])
        print(f"{spec.title}: {train_size} training examples, {len(heldout)} held-out; CPU {cpu.describe()}")
        print("| steps | epochs | learning rate | rank | train s | held-out loss | base loss | change |")
        print("|---|---|---|---|---|---|---|---|")
        for item in args.grid:
            steps, learning_rate, rank = item.split(":")
            run = settings.model_copy(update={"max_steps": int(steps), "learning_rate": float(learning_rate),
                                              "lora_r": int(rank), "lora_alpha": 2 * int(rank),
                                              "eval_steps": int(steps)})
            started = time.perf_counter()
            result = train_lora(base=base, dataset=dataset, settings=run, work_dir=work / "checkpoints" / item,
                                adapter_out=work / "adapters" / item.replace(":", "_"))
            seconds = time.perf_counter() - started
            model = PeftModel.from_pretrained(load_model(base), str(result.adapter_dir))
            loss = assistant_token_loss(model, tokenizer, heldout, settings.max_seq_length)
            epochs = int(steps) * run.batch_size * run.gradient_accumulation_steps / train_size
            print(f"| {steps} | {epochs:.1f} | {float(learning_rate):g} | {rank} | {seconds:.0f} | {loss:.3f} | "
                  f"{base_loss:.3f} | {100 * (loss / base_loss - 1):+.1f}% |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
