"""Generation that can copy from its excerpts and cannot loop.

transformers' `repetition_penalty` divides the logits of every token already in the sequence, the prompt
included, so copying a figure from an excerpt ("17 days") is punished and the model writes "8 hours"
instead; `no_repeat_ngram_size` bans n-grams of the prompt in the same way. Here only tokens the model
generated itself are penalised, and generation stops when it starts repeating itself or has written
enough sentences.
"""
from __future__ import annotations

from typing import Iterator

import torch

# >1 discourages re-using a generated token; 1.15 was the old whole-sequence value, kept as the strength
GENERATED_REPETITION_PENALTY = 1.15
# a span of this many generated tokens seen before in the generated text means a loop
LOOP_TOKENS = 8
# the coach's reading and one next step
MAX_SENTENCES = 3
_SENTENCE_END = ".!?…"
# what decoding shows for a character whose bytes are split across tokens, until its last token arrives
_PARTIAL_CHARACTER = "\ufffd"


def token_id_set(value: int | list[int] | None) -> set[int]:
    """A config's `eos_token_id`, which is one id, a list of them or absent, as a set."""
    return set(value) if isinstance(value, list) else set() if value is None else {value}


def penalised(scores: torch.Tensor, generated: list[int], penalty: float = GENERATED_REPETITION_PENALTY) -> torch.Tensor:
    """`repetition_penalty` restricted to the generated tokens: `scores` (1, vocabulary)."""
    if not generated:
        return scores
    index = torch.tensor([generated])
    chosen = torch.gather(scores, 1, index)
    chosen = torch.where(chosen < 0, chosen * penalty, chosen / penalty)
    return scores.scatter(1, index, chosen)


def finished(generated: list[int], tokenizer, max_sentences: int = MAX_SENTENCES) -> bool:
    """Whether the last LOOP_TOKENS generated tokens already occurred earlier in the generated text, or
    `max_sentences` sentences are complete."""
    if len(generated) >= 2 * LOOP_TOKENS:
        tail, earlier = generated[-LOOP_TOKENS:], generated[:-LOOP_TOKENS]
        if any(earlier[i:i + LOOP_TOKENS] == tail for i in range(len(earlier) - LOOP_TOKENS + 1)):
            return True
    if generated and tokenizer.decode(generated[-1:]).strip()[-1:] in tuple(_SENTENCE_END):
        text = tokenizer.decode(generated, skip_special_tokens=True)
        return sum(text.count(c) for c in _SENTENCE_END) >= max_sentences
    return False


def greedy_tokens(model, tokenizer, prompt_ids: torch.Tensor, max_new_tokens: int) -> Iterator[int]:
    """The tokens greedy decoding picks after `prompt_ids` (1, length), up to the end of the turn, a loop,
    MAX_SENTENCES sentences or `max_new_tokens`. `model` is a PlainLlama or a PeftModelRunner."""
    end = (model.eos_token_ids | {tokenizer.eos_token_id}) - {None}
    generated: list[int] = []
    with torch.inference_mode():
        logits, cache = model.decode(prompt_ids, None)
    while len(generated) < max_new_tokens:
        token = int(penalised(logits.float(), generated).argmax(-1))
        if token in end:
            return
        generated.append(token)
        yield token
        if finished(generated, tokenizer):
            return
        with torch.inference_mode():
            logits, cache = model.decode(torch.tensor([[token]]), cache)


def stream(model, tokenizer, prompt_ids: dict, max_new_tokens: int, adapters: list[str]) -> Iterator[str]:
    """Greedy generation with `adapters` active; yields the text piece by piece as it is produced."""
    generated, shown = [], ""
    with model.use(adapters):
        for token in greedy_tokens(model, tokenizer, prompt_ids["input_ids"], max_new_tokens):
            generated.append(token)
            text = tokenizer.decode(generated, skip_special_tokens=True)
            if text.endswith(_PARTIAL_CHARACTER) or len(text) <= len(shown):
                continue
            yield text[len(shown):]
            shown = text


def sentences(pieces: Iterator[str]) -> Iterator[str]:
    """Streamed pieces regrouped into finished sentences (and the unfinished rest at the end), so that each
    sentence can be checked before the user sees it."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while (cut := _sentence_cut(buffer)) is not None:
            if buffer[:cut].strip():
                yield buffer[:cut].strip()
            buffer = buffer[cut:]
    if buffer.strip():
        yield buffer.strip()


def _sentence_cut(buffer: str) -> int | None:
    for i, char in enumerate(buffer[:-1]):
        if char in _SENTENCE_END and buffer[i + 1].isspace():
            return i + 1
    return None
