"""Training throughput of the pipeline's trainer against plain trl SFTTrainer, on the same model (the
packaged SmolLM2), data (the CoreSelf examples), batch size and number of steps, in one run.

Two baselines: trl's defaults as shipped (bf16=True, which on a CPU without native bf16 is emulated,
and gradient checkpointing on), and the same with bf16 off, the fairest plain-trl setup on such a CPU.
Prints tokens/s of each (tokens of the examples, padding excluded), the ratios and the final eval losses.

Usage: .venv/bin/python bench/training_throughput.py [--steps 3] [--batch-size 4]
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

from peft import LoraConfig
from trl import SFTConfig, SFTTrainer

from persona_pipeline.sft.dataset import build_dataset
from persona_pipeline.sft.validation import load_and_validate
from persona_pipeline.settings import PROJECT_DIR
from persona_pipeline.training.base_model import load_model, load_tokenizer, prepare_base_model
from persona_pipeline.training.lora import PersonaSFTTrainer, cpu_bf16_supported, training_config
from persona_pipeline.training.settings import TrainingSettings


def real_tokens(dataset, tokenizer) -> int:
    return sum(len(tokenizer.apply_chat_template(m, return_dict=True)["input_ids"]) for m in dataset["messages"])


def run(trainer) -> tuple[float, float]:
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return seconds, trainer.evaluate()["eval_loss"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    settings = TrainingSettings(max_steps=args.steps, batch_size=args.batch_size, eval_steps=args.steps, logging_steps=args.steps)
    work = Path(tempfile.mkdtemp(prefix="persona-train-bench-"))
    try:
        examples, _ = load_and_validate(PROJECT_DIR / "raw_materials/worldview/core", PROJECT_DIR / "raw_materials")
        data = build_dataset(examples, work / "sft", system_prompt=settings.system_prompt, eval_fraction=settings.eval_fraction).data
        base = prepare_base_model()
        tokenizer = load_tokenizer(base)
        lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                          target_modules=list(settings.target_modules), task_type="CAUSAL_LM")
        train, evaluation = data["train"].select_columns(["messages"]), data["eval"].select_columns(["messages"])
        # both see the same examples: the first steps * batch of the training split, in the same order
        n = min(len(train), args.steps * args.batch_size)
        train = train.select(range(n))
        tokens = real_tokens(train, tokenizer)

        def plain(**overrides) -> SFTTrainer:
            return SFTTrainer(model=load_model(base), processing_class=tokenizer, peft_config=lora, train_dataset=train,
                              eval_dataset=evaluation,
                              args=SFTConfig(output_dir=str(work / "plain"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                                             per_device_eval_batch_size=args.batch_size, learning_rate=settings.learning_rate,
                                             assistant_only_loss=True, max_length=settings.max_seq_length, seed=settings.seed,
                                             use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, **overrides))

        default_s, default_loss = run(plain())
        fp32_s, fp32_loss = run(plain(bf16=False))

        ours_args = training_config(settings, work / "ours", cpu_autocast=cpu_bf16_supported(), save_strategy="no",
                                    load_best_model_at_end=False, eval_strategy="no")
        ours = PersonaSFTTrainer(model=load_model(base), processing_class=tokenizer, peft_config=lora, train_dataset=train,
                                 eval_dataset=evaluation, args=ours_args, cpu_autocast=cpu_bf16_supported())
        ours_s, ours_loss = run(ours)

        print(f"{args.steps} steps x batch {args.batch_size}, {tokens} real tokens, SmolLM2-135M, CPU bf16 autocast: {cpu_bf16_supported()}")
        for label, seconds, loss in (("trl SFTTrainer defaults (bf16)", default_s, default_loss),
                                     ("trl SFTTrainer, bf16 off", fp32_s, fp32_loss),
                                     ("pipeline trainer", ours_s, ours_loss)):
            print(f"{label:32s} {tokens / seconds:7.1f} tokens/s  ({seconds:6.1f} s), final eval loss {loss:.4f}")
        for label, seconds, loss in (("trl defaults", default_s, default_loss), ("trl bf16 off", fp32_s, fp32_loss)):
            print(f"speed-up vs {label}: {seconds / ours_s:.2f}x; eval loss difference {100 * (ours_loss - loss) / loss:+.2f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
