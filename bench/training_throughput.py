"""Training throughput of the pipeline's trainer against plain trl SFTTrainer, on the same model (the
packaged SmolLM2), data (the CoreSelf examples), batch size and number of steps, in one run.

Two baselines: trl's defaults as shipped (bf16=True, gradient checkpointing on, padded batches), and the
same with bf16 off, the faster plain-trl setup where bf16 is emulated. The pipeline: the precision
measured faster on this CPU (training/precision.py), no activation recomputation, batches of similar length
from small random pools (training/batching.py).
Prints tokens/s of each (tokens of the examples, padding excluded), the ratio to the faster baseline and
the final eval losses.

After 16 steps the eval loss depends on the data order (and the LoRA initialisation) about as much as on
anything a setup does: one order cannot tell a 2% difference. `--seeds N` trains trl's faster setup and
the pipeline with N seeds each (the seed sets both the order and the initialisation; trl's slower setup
runs with the first seed only, for its speed) and compares the mean eval losses.

--avx2 runs it all on the AVX2 path (corpus.take_avx2_path_if_asked): there trl's bf16 default is emulated, and the
pipeline takes fp32 without measuring.

Usage: .venv/bin/python bench/training_throughput.py [--steps 16] [--batch-size 4] [--seeds 1] [--avx2]
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

from corpus import AVX2_FLAG, machine, take_avx2_path_if_asked

take_avx2_path_if_asked()

from trl import SFTConfig, SFTTrainer  # noqa: E402

from persona_pipeline.settings import PROJECT_DIR  # noqa: E402
from persona_pipeline.sft.dataset import build_dataset  # noqa: E402
from persona_pipeline.sft.validation import load_and_validate  # noqa: E402
from persona_pipeline.training.base_model import load_model, load_tokenizer, prepare_base_model  # noqa: E402
from persona_pipeline.training.lora import PersonaTrainer, choose_precision, lora_config, tokenized, training_config  # noqa: E402
from persona_pipeline.training.settings import TrainingSettings  # noqa: E402


def real_tokens(dataset, tokenizer) -> int:
    return sum(len(tokenizer.apply_chat_template(m, return_dict=True)["input_ids"]) for m in dataset["messages"])


def run(trainer) -> tuple[float, float]:
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return seconds, trainer.evaluate()["eval_loss"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(AVX2_FLAG, action="store_true", help="hold oneDNN, torch and MKL to AVX2")
    args = parser.parse_args()
    settings = TrainingSettings(max_steps=args.steps, batch_size=args.batch_size, eval_steps=args.steps, logging_steps=args.steps)
    work = Path(tempfile.mkdtemp(prefix="persona-train-bench-"))
    try:
        examples, _ = load_and_validate(PROJECT_DIR / "raw_materials/worldview/core", PROJECT_DIR / "raw_materials")
        data = build_dataset(examples, work / "sft", system_prompt=settings.system_prompt, eval_fraction=settings.eval_fraction).data
        base = prepare_base_model()
        tokenizer = load_tokenizer(base)
        lora = lora_config(settings, load_model(base))
        train, evaluation = data["train"].select_columns(["messages"]), data["eval"].select_columns(["messages"])
        # both see the same examples: the first steps * batch of the training split, in the same order
        n = min(len(train), args.steps * args.batch_size)
        train = train.select(range(n))
        tokens = real_tokens(train, tokenizer)

        def plain(seed: int, **overrides) -> SFTTrainer:
            return SFTTrainer(model=load_model(base), processing_class=tokenizer, peft_config=lora, train_dataset=train,
                              eval_dataset=evaluation,
                              args=SFTConfig(output_dir=str(work / "plain"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                                             per_device_eval_batch_size=args.batch_size, learning_rate=settings.learning_rate,
                                             assistant_only_loss=True, max_length=settings.max_seq_length, seed=seed,
                                             use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True, **overrides))

        def pipeline(seed: int) -> PersonaTrainer:
            seeded = settings.model_copy(update={"seed": seed})
            return PersonaTrainer(model=load_model(base), processing_class=tokenizer, peft_config=lora,
                                  train_dataset=tokenized(train, tokenizer), eval_dataset=tokenized(evaluation, tokenizer),
                                  args=training_config(seeded, work / "ours", precision=precision, save_strategy="no",
                                                       load_best_model_at_end=False, eval_strategy="no"))

        precision = choose_precision(base, settings)
        seeds = [settings.seed + i for i in range(args.seeds)]
        default_s, default_loss = run(plain(seeds[0]))
        fp32_s, fp32_loss = run(plain(seeds[0], bf16=False))
        ours_s, ours_loss = run(pipeline(seeds[0]))
        defaults_faster = default_s <= fp32_s
        plain_losses, our_losses = [default_loss if defaults_faster else fp32_loss], [ours_loss]
        for seed in seeds[1:]:
            plain_losses.append(run(plain(seed) if defaults_faster else plain(seed, bf16=False))[1])
            our_losses.append(run(pipeline(seed))[1])

        print(machine())
        print(f"{args.steps} steps x batch {args.batch_size}, {tokens} real tokens, SmolLM2-135M; pipeline precision: {precision}")
        for label, seconds, loss in (("trl SFTTrainer defaults (bf16)", default_s, default_loss),
                                     ("trl SFTTrainer, bf16 off", fp32_s, fp32_loss),
                                     ("pipeline trainer", ours_s, ours_loss)):
            print(f"{label:32s} {tokens / seconds:7.1f} tokens/s  ({seconds:6.1f} s), final eval loss {loss:.4f}")
        for label, seconds, loss in (("trl defaults", default_s, default_loss), ("trl bf16 off", fp32_s, fp32_loss)):
            print(f"speed-up vs {label}: {seconds / ours_s:.2f}x; eval loss difference {100 * (ours_loss - loss) / loss:+.2f}%")
        faster = min(default_s, fp32_s)
        print(f"speed-up vs the faster plain trl setup: {faster / ours_s:.2f}x (goal >= 1.3x)")
        if len(seeds) > 1:
            mean = lambda values: sum(values) / len(values)  # noqa: E731
            print(f"eval loss over seeds {seeds}: faster trl setup {', '.join(f'{x:.4f}' for x in plain_losses)} "
                  f"(mean {mean(plain_losses):.4f}); pipeline {', '.join(f'{x:.4f}' for x in our_losses)} "
                  f"(mean {mean(our_losses):.4f}); difference of the means "
                  f"{100 * (mean(our_losses) - mean(plain_losses)) / mean(plain_losses):+.2f}% (goal within 2%)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
