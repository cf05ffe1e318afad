"""Generation that can copy from its excerpts and cannot loop.

transformers' `repetition_penalty` divides the logits of every token already in the sequence, the prompt
included, so copying a figure from an excerpt ("17 days") is punished and the model writes "8 hours"
instead; `no_repeat_ngram_size` bans n-grams of the prompt in the same way. Here only tokens the model
generated itself are penalised, and generation stops when it starts repeating itself or has written
enough sentences.
"""
from __future__ import annotations

import threading
import contextlib
from typing import Iterator

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

# >1 discourages re-using a generated token; 1.15 was the old whole-sequence value, kept as the strength
GENERATED_REPETITION_PENALTY = 1.15
# a span of this many generated tokens seen before in the generated text means a loop
LOOP_TOKENS = 8
# the coach's reading and one next step
MAX_SENTENCES = 3
_SENTENCE_END = ".!?…"


class GeneratedTokensPenalty(LogitsProcessor):
    """`repetition_penalty` restricted to the tokens after the prompt."""

    def __init__(self, prompt_length: int, penalty: float):
        self.prompt_length, self.penalty = prompt_length, penalty

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_length:]
        if generated.shape[1] == 0:
            return scores
        chosen = torch.gather(scores, 1, generated)
        chosen = torch.where(chosen < 0, chosen * self.penalty, chosen / self.penalty)
        return scores.scatter(1, generated, chosen)


class StopOnLoopOrLength(StoppingCriteria):
    """Stops when the last LOOP_TOKENS generated tokens already occurred earlier in the generated text, or
    when `max_sentences` sentences are complete."""

    def __init__(self, prompt_length: int, tokenizer, max_sentences: int = MAX_SENTENCES):
        self.prompt_length, self.tokenizer, self.max_sentences = prompt_length, tokenizer, max_sentences

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        generated = input_ids[0, self.prompt_length:].tolist()
        stop = False
        if len(generated) >= 2 * LOOP_TOKENS:
            tail = generated[-LOOP_TOKENS:]
            earlier = generated[:-LOOP_TOKENS]
            stop = any(earlier[i:i + LOOP_TOKENS] == tail for i in range(len(earlier) - LOOP_TOKENS + 1))
        if not stop and generated and self.tokenizer.decode(generated[-1:]).strip()[-1:] in tuple(_SENTENCE_END):
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            stop = sum(text.count(c) for c in _SENTENCE_END) >= self.max_sentences
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def stream(model, tokenizer, prompt_ids: dict, max_new_tokens: int,
           context: contextlib.AbstractContextManager | None = None) -> Iterator[str]:
    """Greedy generation in a worker thread; yields the text piece by piece as it is produced."""
    length = prompt_ids["input_ids"].shape[1]
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    kwargs = dict(**prompt_ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                  streamer=streamer,
                  logits_processor=LogitsProcessorList([GeneratedTokensPenalty(length, GENERATED_REPETITION_PENALTY)]),
                  stopping_criteria=StoppingCriteriaList([StopOnLoopOrLength(length, tokenizer)]))
    error: list[BaseException] = []

    def run():
        try:
            with torch.inference_mode(), context or contextlib.nullcontext():
                model.generate(**kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)
            streamer.end()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield from streamer
    thread.join()
    if error:
        raise error[0]


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
