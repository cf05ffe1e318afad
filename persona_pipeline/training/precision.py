"""fp32 or bf16 for LoRA training, decided by what the hardware does, measured.

On a GPU bf16 is used where it is supported. On a CPU without native bf16 (AVX2) it is emulated and
several times slower, so fp32 is chosen without measuring. Where the CPU has AVX512-BF16 or AMX, the
first training on each CPU model and base model times a LoRA forward and backward pass in fp32 and under
bf16 autocast, side by side, and keeps bf16 only if it is clearly faster (cached in the model cache as
`training_precision.json`). PERSONA_TRAIN_PRECISION=fp32|bf16 overrides the choice.
"""
from __future__ import annotations

import contextlib
import logging
import os
from typing import Callable

import torch

from ..cpu import cpu_model, native_bf16
from ..measured import best_seconds, measured_once
from .base_model import BaseModel

log = logging.getLogger(__name__)

ENV = "PERSONA_TRAIN_PRECISION"
PRECISIONS = ("fp32", "bf16")
CHOICES_FILE = "training_precision.json"
MIN_SPEEDUP = 1.1
CALIBRATION_BATCH = (4, 256)  # examples x tokens: the size of a training batch of the demo
CALIBRATION_ROUNDS = 2


def training_precision(base: BaseModel, make_model: Callable[[], torch.nn.Module]) -> str:
    """`make_model()` builds the model to train (base + fresh LoRA), used only if this CPU must be measured."""
    forced = os.environ.get(ENV, "auto")
    if forced in PRECISIONS:
        return forced
    if forced != "auto":
        raise ValueError(f"{ENV}={forced!r}: expected auto, {' or '.join(PRECISIONS)}")
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if not native_bf16():
        return "fp32"
    key = f"{cpu_model()} | {base.model_id} {base.revision[:12]} | torch {torch.__version__} | {torch.get_num_threads()} threads"
    return measured_once(CHOICES_FILE, key, lambda: calibrate(make_model()))["precision"]


def calibrate(model: torch.nn.Module) -> dict:
    model.train()
    ids = torch.randint(0, model.config.vocab_size, CALIBRATION_BATCH, generator=torch.Generator().manual_seed(0))

    def step(precision: str) -> float:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with autocast:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss)

    step("fp32")  # first-call allocations and kernel selection stay out of the timing
    best, _ = best_seconds(CALIBRATION_ROUNDS, {p: (lambda p=p: step(p)) for p in PRECISIONS})
    speedup = best["fp32"] / best["bf16"]
    chosen = "bf16" if speedup >= MIN_SPEEDUP else "fp32"
    log.info("training precision on %s: bf16 %.2fx fp32 -> %s", cpu_model(), speedup, chosen)
    return {"precision": chosen, "bf16_speedup": round(speedup, 3)}
