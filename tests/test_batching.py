"""The training batch order: every example once per epoch, similar lengths per batch from small pools,
reproducible for a resumed run, and less padding than random order."""
import random

from persona_pipeline.training.batching import POOL_BATCHES, LengthPoolSampler

_RNG = random.Random(3)
LENGTHS = [_RNG.randint(20, 400) for _ in range(64)]
BATCH = 4


def _batches(sampler: LengthPoolSampler) -> list[list[int]]:
    order = list(sampler)
    return [order[i:i + BATCH] for i in range(0, len(order), BATCH)]


def _padding(batches: list[list[int]]) -> int:
    return sum(max(LENGTHS[i] for i in b) * len(b) - sum(LENGTHS[i] for i in b) for b in batches)


def test_each_epoch_holds_every_example_once_in_sorted_batches():
    sampler = LengthPoolSampler(LENGTHS, BATCH, seed=42)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = _batches(sampler)
        assert sorted(i for b in batches for i in b) == list(range(len(LENGTHS)))
        assert all([LENGTHS[i] for i in b] == sorted(LENGTHS[i] for i in b) for b in batches)


def test_a_resumed_run_sees_the_same_order_and_epochs_differ():
    first, resumed = LengthPoolSampler(LENGTHS, BATCH, seed=42), LengthPoolSampler(LENGTHS, BATCH, seed=42)
    first.set_epoch(1)
    resumed.set_epoch(1)
    assert list(first) == list(resumed)
    resumed.set_epoch(2)
    assert list(first) != list(resumed)
    assert list(LengthPoolSampler(LENGTHS, BATCH, seed=7)) != list(LengthPoolSampler(LENGTHS, BATCH, seed=42))


def test_batches_are_less_padded_than_random_order_yet_not_globally_sorted():
    sampler = LengthPoolSampler(LENGTHS, BATCH, seed=42)
    shuffled = list(range(len(LENGTHS)))
    random.Random(42).shuffle(shuffled)
    random_batches = [shuffled[i:i + BATCH] for i in range(0, len(shuffled), BATCH)]
    assert _padding(_batches(sampler)) < 0.75 * _padding(random_batches)
    # not one sorted run: the longest examples do not all share the first batches
    batch_maxima = [max(LENGTHS[i] for i in b) for b in _batches(sampler)]
    assert batch_maxima != sorted(batch_maxima) and batch_maxima != sorted(batch_maxima, reverse=True)
    assert POOL_BATCHES * BATCH < len(LENGTHS)
