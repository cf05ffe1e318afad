"""LoRA training with trl's SFTTrainer: assistant-only loss, held-out eval, early stopping, resumable.

Speed on a CPU (bench/training_throughput.py): the precision measured faster on this CPU (precision.py;
bf16 autocast lost to fp32 in training on an AVX512-BF16 EPYC without AMX), activations kept rather than
recomputed, and batches of similar length drawn from small random pools (batching.py), each step's loss
divided by an average step's target tokens (`PersonaTrainer`). Padding-free batches
(examples concatenated into one row, position ids restarting per example) were slower: without a
variable-length attention kernel, which CPUs lack, attention runs over the whole row.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import torch
from peft import LoraConfig, get_peft_model
from transformers import EarlyStoppingCallback, PrinterCallback, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import SFTConfig, SFTTrainer

from ..atomic import staged_dir
from ..faults import fault_point
from ..sft.dataset import SftDataset
from .assistant_mask import encode_with_assistant_mask
from .base_model import BaseModel, load_model, load_tokenizer
from .batching import LengthPoolSampler
from .distributed import world_size
from .precision import training_precision
from .settings import TrainingSettings

# batch_size in the settings is sized for a CPU; a GPU has the memory and parallel cores for more conversations
# per step. 4 is a chosen, not a measured, figure (docs/scale-out.md, "GPU training")
CUDA_BATCH_MULTIPLIER = 4
# linear decay ended lower than cosine in runs of bench/training_throughput.py's setup: mean eval loss 1.840
# against 1.857 over three seeds of 16 steps, batching and loss division the same (linear is also trl's default)
LEARNING_RATE_SCHEDULE = "linear"
ALL_LINEAR = "all-linear"  # target_modules: [all-linear] means every projection the architecture has


@dataclass
class TrainResult:
    adapter_dir: Path
    steps: int
    eval_loss: float | None
    resumed_from: str | None
    tokens_per_second: float
    seconds: float
    precision: str
    history: list[dict] = field(default_factory=list)  # the trainer's log rows, from before a resume too


def lora_config(settings: TrainingSettings, model) -> LoraConfig:
    targets = projections(model) if list(settings.target_modules) == [ALL_LINEAR] else list(settings.target_modules)
    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def projections(model) -> list[str]:
    """The names of the model's linear layers, the output head left out: whatever a family calls its
    projections (q_proj, c_attn, query_key_value, ...), the adapter trains all of them."""
    head = model.get_output_embeddings()
    return sorted({name.rpartition(".")[2] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and module is not head})


def tokenized(conversations, tokenizer):
    """`input_ids` and `assistant_masks` of each conversation, the assistant's tokens found by rendering
    (assistant_mask.py), so the loss falls on them alone under any family's chat template."""
    return conversations.map(lambda row: encode_with_assistant_mask(tokenizer, row["messages"]),
                             remove_columns=conversations.column_names)


def choose_precision(base: BaseModel, settings: TrainingSettings) -> str:
    def adapted():
        model = load_model(base)
        return get_peft_model(model, lora_config(settings, model))

    return training_precision(base, adapted)


class _ProgressCallback(TrainerCallback):
    """Each logged row (loss, eval_loss, learning_rate, ...) with the step, max_steps and, on train rows,
    the tokens/s since the previous one."""

    def __init__(self, report: Callable[[dict], None]):
        self.report = report
        self.last_tokens, self.last_time = 0, time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        # a resumed run starts with the tokens seen before the interruption
        self.last_tokens, self.last_time = int(getattr(state, "num_input_tokens_seen", 0) or 0), time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        now = time.perf_counter()
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        row = {"step": state.global_step, "max_steps": state.max_steps, **(logs or {})}
        if "loss" in row and now > self.last_time:
            row["tokens_per_second"] = (tokens - self.last_tokens) / (now - self.last_time)
            self.last_tokens, self.last_time = tokens, now
        self.report(row)


class _CrashPointAfterCheckpoint(TrainerCallback):
    """PERSONA_FAULT=train:checkpoint-saved kills the process once a checkpoint is on disk (crash tests): the
    main one, which writes it, so the kill never lands while the checkpoint is half-written."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            fault_point("train:checkpoint-saved")


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint the trainer finished writing: trainer_state.json is the last file it writes,
    so a checkpoint cut off by a kill mid-save is passed over for the one before it."""
    complete = [p for p in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if (p / "trainer_state.json").exists()]
    return str(max(complete, key=lambda p: int(p.name.rpartition("-")[2]))) if complete else None


class PersonaTrainer(SFTTrainer):
    """trl's SFTTrainer with the batch order of batching.py, and every step's loss divided by the number of
    target tokens an average step holds instead of this step's own.

    Divided by its own count, a batch of short examples gives each of its tokens a larger weight than a
    batch of long ones. Random batches mix lengths, so the weights even out; batches of similar length do
    not, and the short examples' tokens counted for more.
    """

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training and num_items_in_batch is not None:
            num_items_in_batch = self._target_tokens_per_step
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    @cached_property
    def _target_tokens_per_step(self) -> float:
        # trl's prepared rows: truncated, labels -100 off the assistant's turns; the first token is never a target.
        # A step of N processes holds N batches: each process's loss is scaled by N and DDP averages the
        # gradients, so dividing by a whole step's tokens gives the gradient of one process with N times the batch
        labels = self.train_dataset["labels"]
        per_example = sum(sum(label != -100 for label in row[1:]) for row in labels) / len(labels)
        return per_example * self._global_batch * self.args.gradient_accumulation_steps

    @property
    def _global_batch(self) -> int:
        return self.args.per_device_train_batch_size * world_size()

    def _get_train_sampler(self, train_dataset=None):
        # the order one process would draw whole steps in; accelerate hands each process its share of a step,
        # so N processes see the examples of a single process with N times the batch, step by step
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        return LengthPoolSampler([len(ids) for ids in dataset["input_ids"]], self._global_batch,
                                 self.args.data_seed if self.args.data_seed is not None else self.args.seed)


def training_config(settings: TrainingSettings, output_dir: Path, *, precision: str, **overrides) -> SFTConfig:
    batch = settings.batch_size * (CUDA_BATCH_MULTIPLIER if torch.cuda.is_available() else 1)
    every = max(1, min(settings.eval_steps, settings.max_steps))
    values = dict(
        output_dir=str(output_dir), max_steps=settings.max_steps, seed=settings.seed, data_seed=settings.seed,
        per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
        gradient_accumulation_steps=settings.gradient_accumulation_steps, learning_rate=settings.learning_rate,
        lr_scheduler_type=LEARNING_RATE_SCHEDULE, warmup_steps=int(settings.warmup_ratio * settings.max_steps),
        logging_steps=max(1, min(settings.logging_steps, settings.max_steps)),
        eval_strategy="steps", eval_steps=every, save_strategy="steps", save_steps=every, save_total_limit=2,
        load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False,
        max_length=settings.max_seq_length,  # the rows come tokenized with their assistant masks: see tokenized()
        # a 135M model fits in memory many times over; recomputing activations would cost a third more time
        activation_checkpointing=False,
        bf16=precision == "bf16", use_cpu=not torch.cuda.is_available(),
        ddp_backend="gloo" if world_size() > 1 and not torch.cuda.is_available() else None,
        include_num_input_tokens_seen="non_padding", report_to="none", disable_tqdm=True, dataloader_num_workers=0,
    )
    values.update(overrides)
    return SFTConfig(**values)


def train_lora(*, base: BaseModel, dataset: SftDataset, settings: TrainingSettings, work_dir: Path, adapter_out: Path | None,
               report: Callable[[dict], None] = lambda row: None, extra_callbacks: list | None = None) -> TrainResult | None:
    """Train one adapter; resume from this setup's last checkpoint if an earlier run was interrupted.
    The adapter is written to `adapter_out` only when training finished (staged, then renamed). In a
    multi-process run the main process writes it and returns the result; the others (whose `adapter_out`
    is None) return None."""
    torch.manual_seed(settings.seed)
    tokenizer = load_tokenizer(base)
    precision = choose_precision(base, settings)
    model = load_model(base)
    checkpoints = work_dir / f"{dataset.digest[:12]}-{settings.fingerprint()}"
    checkpoints.mkdir(parents=True, exist_ok=True)
    resume = last_complete_checkpoint(checkpoints)
    trainer = PersonaTrainer(
        model=model, processing_class=tokenizer,
        args=training_config(settings, checkpoints, precision=precision),
        train_dataset=tokenized(dataset.data["train"], tokenizer), eval_dataset=tokenized(dataset.data["eval"], tokenizer),
        peft_config=lora_config(settings, model),
        callbacks=[EarlyStoppingCallback(early_stopping_patience=settings.early_stopping_patience),
                   _ProgressCallback(report), _CrashPointAfterCheckpoint(), *(extra_callbacks or [])],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through `report`, not print()
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    evaluation = trainer.evaluate()
    if not trainer.is_world_process_zero():
        return None
    with staged_dir(adapter_out) as staging:
        trainer.model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return TrainResult(
        adapter_dir=adapter_out, steps=trainer.state.global_step, eval_loss=evaluation.get("eval_loss"),
        resumed_from=resume, tokens_per_second=int(trainer.state.num_input_tokens_seen or 0) / max(seconds, 1e-9),
        seconds=seconds, precision=precision, history=list(trainer.state.log_history),
    )
