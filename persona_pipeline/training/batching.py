"""The order in which training examples are batched: similar lengths share a batch, drawn from small random
pools, so that little is spent on padding.

Measured after 16 steps of 4 CoreSelf examples (bench/training_throughput.py and throwaway runs of the same
setup, one CPU). Eval loss moves with the order of the examples about as much as with the way they are
batched: random order ended at 1.805, 1.821 and 1.855 over three data orders; transformers' group_by_length
(pools of 16 examples, sorted) at 1.870-1.892; pools of two batches at 1.839, 1.846 and 1.910, and at 1.863,
1.827 and 1.829 once each step's loss is divided by an average step's target tokens and the learning rate
decays linearly (lora.py). Pools of two batches took 93-102 s, group_by_length 99-106 s, random order
109-123 s. One pool of all 64 examples took 75 s (1.869), but then the same examples share a batch in every
epoch; small pools keep that random.
"""
from __future__ import annotations

import torch
from torch.utils.data import Sampler

POOL_BATCHES = 2  # batches per pool: sorted within, so a batch holds the shorter or the longer half of 2 x batch
# a prime above any epoch count: seed * EPOCH_STRIDE + epoch gives every (seed, epoch) its own generator
EPOCH_STRIDE = 1_000_003


class LengthPoolSampler(Sampler[int]):
    """Each epoch: a random permutation cut into pools of POOL_BATCHES batches, each pool sorted by length and
    cut into batches, the batches in random order. Seeded by (seed, epoch), so a resumed run sees the order
    the interrupted one would have seen."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:  # called by the trainer before each epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * EPOCH_STRIDE + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        pool = self.batch_size * POOL_BATCHES
        batches = []
        for start in range(0, len(order), pool):
            members = sorted(order[start:start + pool], key=lambda i: self.lengths[i])
            batches += [members[i:i + self.batch_size] for i in range(0, len(members), self.batch_size)]
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield from batches[b]
