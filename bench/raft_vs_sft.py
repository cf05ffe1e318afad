"""Retrieval-augmented fine-tuning against plain SFT, side by side in one run: the same CoreSelf examples,
steps and learning rate, once as written and once with a retrieval-augmented variant of each training
example (consilium/answer/raft.py). Each adapter then answers the same English grounded questions through the
consilium (the quotes are the same for both; only the generated reading differs).

Prints per variant: training examples, held-out loss (plain prompts), and over the generated sentences of
the answers: the share the faithfulness guard kept, the share dropped for a figure or name found in no
excerpt, and the share of answers whose reading repeats a figure of its quotes.

    .venv/bin/python bench/raft_vs_sft.py [--steps 16] [--learning-rate 1e-3] [--questions 20]
(needs the knowledge index: `persona index`)
"""
from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path


from peft import PeftModel

from persona_pipeline.consilium.runtime.adapters import load_adapters
from persona_pipeline.consilium.answer.answering import Consilium
from persona_pipeline.consilium.evaluation.grounded_set import load_grounded_set
from persona_pipeline.consilium.runtime.loading import open_evidence, retrieval_augmenter
from persona_pipeline.consilium.answer.routing import Router
from persona_pipeline.rag_config import load_rag_config
from persona_pipeline.settings import PROJECT_DIR, Paths
from persona_pipeline.training.adapters import ADAPTERS
from persona_pipeline.training.base_model import load_model, load_tokenizer, prepare_base_model
from persona_pipeline.training.heldout import assistant_token_loss
from persona_pipeline.training.lora import train_lora
from persona_pipeline.sft.adapter_data import build_sft_dataset, load_heldout
from persona_pipeline.training.settings import TrainingSettings

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--questions", type=int, default=20, help="English grounded questions answered per variant")
    parser.add_argument("--data", help="data folder with the knowledge index (default data/)")
    args = parser.parse_args()
    spec = ADAPTERS["core"]
    source = Paths.resolve(data=args.data)
    work = Path(tempfile.mkdtemp(prefix="persona-raft-"))
    try:
        # the index is read from the data folder; datasets and adapters go to a scratch copy of it
        scratch = Paths.resolve(source.materials_dir, work / "data")
        shutil.copytree(source.index_dir, scratch.index_dir)
        settings = TrainingSettings(max_steps=args.steps, learning_rate=args.learning_rate, eval_steps=args.steps)
        base = prepare_base_model()
        tokenizer = load_tokenizer(base)
        heldout = load_heldout(spec, settings)
        rag = load_rag_config(scratch.config_path)
        config = rag.consilium
        retriever, scorer = open_evidence(scratch, rag)
        questions = [q for q in load_grounded_set(PROJECT_DIR / "eval" / "grounded_questions.yaml")
                     if q.language == "en" and q.answerable][: args.questions]
        print("| variant | training examples | held-out loss | generated sentences kept | dropped: figure or name "
              "not in excerpts | readings repeating a quoted figure |")
        print("|---|---|---|---|---|---|")
        for variant, augment in (("plain SFT", None), ("retrieval-augmented", retrieval_augmenter(scratch, settings, tokenizer))):
            dataset = build_sft_dataset(spec, scratch, settings, base, augment).dataset
            out = work / "adapters" / variant.split()[0]
            train_lora(base=base, dataset=dataset, settings=settings, work_dir=work / "checkpoints" / out.name,
                       adapter_out=out)
            loss = assistant_token_loss(PeftModel.from_pretrained(load_model(base), str(out)), tokenizer, heldout,
                                        settings.max_seq_length)
            adapters = load_adapters(base, {"core": out}, {"core": variant}, [])
            consilium = Consilium(tokenizer=tokenizer, adapters=adapters, retriever=retriever, router=Router(),
                                  config=config, settings=settings, scorer=scorer)
            kept = dropped = invented = repeats = answered = 0
            for question in questions:
                answer = consilium.ask(question.question, adapters="core")
                if answer.abstained:
                    continue
                answered += 1
                kept += len(re.findall(r"[.!?…](\s|$)", answer.generated.split(":", 1)[-1])) if answer.generated else 0
                dropped += len(answer.dropped)
                invented += sum("not in any excerpt" in d.reason for d in answer.dropped)
                quoted = {n for q in answer.evidence.quotes for n in _NUMBER.findall(q.sentence)}
                repeats += bool(quoted & set(_NUMBER.findall(answer.generated)))
            total = max(kept + dropped, 1)
            print(f"| {variant} | {len(dataset.data['train'])} | {loss:.3f} | {kept / total:.2f} | "
                  f"{invented / total:.2f} | {repeats / max(answered, 1):.2f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
