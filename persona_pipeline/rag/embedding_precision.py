"""fp32 or bf16 for the embedder, decided by measuring on this CPU.

bf16 means a copy of the network with its weights in bf16, not autocast: autocast casts every weight again
on every batch and measured about 10% slower here, while the copy's vectors stay within cosine 0.9998 of
fp32's (bench/embedding_throughput.py). It only pays where the CPU multiplies bf16 in hardware (AVX512-BF16, AMX); on AVX2 it is
emulated and slower than fp32, so there fp32 is chosen without measuring. Where bf16 is native, the
first embedder of each CPU model and embedding model times both on a fixed set of texts and keeps bf16
only when it is faster and its vectors stay within cosine 0.99 of fp32's. The choice is cached in the
model cache (`embedding_precision.json`); PERSONA_EMBED_PRECISION=fp32|bf16 overrides it.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from ..cpu import cpu_model, native_bf16
from ..measured import best_seconds, measured_once

log = logging.getLogger(__name__)

ENV = "PERSONA_EMBED_PRECISION"
PRECISIONS = ("fp32", "bf16")
CHOICES_FILE = "embedding_precision.json"
MIN_COSINE = 0.99
MIN_SPEEDUP = 1.1       # below this, measurement noise could pick the less exact path for nothing
CALIBRATION_TEXTS = 64
CALIBRATION_ROUNDS = 2  # interleaved; the best round of each counts, so a busy neighbour skews less


def in_precision(encoder, precision: str):
    """`encoder` itself for fp32; a copy with bf16 weights for bf16 (the fp32 one stays the reference)."""
    if precision == "bf16":
        import torch

        return encoder.in_dtype(torch.bfloat16)
    return encoder


def choose_precision(embedder) -> str:
    forced = os.environ.get(ENV, "auto")
    if forced in PRECISIONS:
        return forced
    if forced != "auto":
        raise ValueError(f"{ENV}={forced!r}: expected auto, {' or '.join(PRECISIONS)}")
    if embedder.device != "cpu" or not native_bf16():
        return "fp32"
    import torch

    key = (f"{cpu_model()} | {embedder.name} | bf16 weights | torch {torch.__version__} | "
           f"{torch.get_num_threads()} threads")
    return measured_once(CHOICES_FILE, key, lambda: calibrate(embedder))["precision"]


def calibrate(embedder) -> dict:
    """Time fp32 and bf16 side by side on the same texts; bf16 wins only if faster and close enough."""
    texts = calibration_texts(CALIBRATION_TEXTS)
    encoders = {p: in_precision(embedder.network, p) for p in PRECISIONS}

    def encode(precision: str):
        size = embedder.batch_size
        return np.vstack([encoders[precision].encode(texts[i:i + size]) for i in range(0, len(texts), size)])

    best, vectors = best_seconds(CALIBRATION_ROUNDS, {p: (lambda p=p: encode(p)) for p in PRECISIONS})
    cosine = float(np.min(np.sum(vectors["fp32"] * vectors["bf16"], axis=1)))
    speedup = best["fp32"] / best["bf16"]
    chosen = "bf16" if speedup >= MIN_SPEEDUP and cosine >= MIN_COSINE else "fp32"
    log.info("embedder precision on %s: bf16 %.2fx fp32, min cosine %.5f -> %s", cpu_model(), speedup, cosine, chosen)
    return {"precision": chosen, "bf16_speedup": round(speedup, 3), "min_cosine": round(cosine, 6)}


def calibration_texts(n: int) -> list[str]:
    """Deterministic sentences of many lengths, Latin and Cyrillic, like the chunks of a real corpus."""
    words = ("threshold tempo interval recovery marathon athlete pace kilometre season coach lactate volume "
             "порог темп интервал восстановление марафон спортсмен нагрузка сезон тренер объём").split()
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(words, size=int(size))) for size in np.linspace(8, 180, n)]
