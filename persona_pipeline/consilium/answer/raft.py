"""Retrieval-augmented fine-tuning examples (RAFT): a worldview example whose prompt carries numbered excerpts
from the knowledge index, the relevant ones and distractors alike, and whose answer opens with the quote
the evidence scorer picks from them, with its [n], before the coach's original answer.

The adapter then learns the shape `persona ask` gives it: read the notes, start from what they say, and
continue in his voice; an example whose excerpts support nothing keeps its plain answer, so it also learns
to answer past distractors. The worldview examples themselves are in the index; they are left out of their
own excerpts so that no variant is a copy of its answer.
"""
from __future__ import annotations

from typing import Callable

from . import language, prompting
from .evidence import EvidenceScorer

WORLDVIEW_KIND = "example"


class EvidenceAugmenter:
    """`fits(messages)` says whether a conversation fits the training sequence length; excerpts are dropped,
    lowest-ranked first, until it does."""

    def __init__(self, retriever, scorer: EvidenceScorer, template: str, tactics: str, k: int, tokenizer,
                 fits: Callable[[list[dict]], bool]):
        self.retriever, self.scorer, self.fits, self.tokenizer = retriever, scorer, fits, tokenizer
        self.template, self.tactics, self.k = template, tactics, k

    def __call__(self, messages: list[dict]) -> list[list[dict]]:
        """The retrieval-augmented variant of one conversation (system?, user, assistant), or none."""
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        question = next(m["content"] for m in messages if m["role"] == "user")
        answer = next(m["content"] for m in messages if m["role"] == "assistant")
        hits = [h for h in self.retriever.search(question, k=3 * self.k) if h.chunk.kind != WORLDVIEW_KIND][: self.k]
        if not hits:
            return []
        excerpts = [prompting.Excerpt(n, h.chunk.source, h.chunk.location_label(), h.chunk.text)
                    for n, h in enumerate(hits, start=1)]
        selection = self.scorer.select(question, [(e.number, e.text, f"{h.chunk.title}\n{h.chunk.heading or ''}")
                                                  for e, h in zip(excerpts, hits)])
        lang = language.detect(question)
        if selection.supported:
            answer = (prompting.opening([(q.number, q.sentence) for q in selection.quotes], lang) + "\n"
                      + prompting.reading_lead(lang) + " " + answer)
        quoted = {q.number for q in selection.quotes}
        while True:
            variant = (prompting.conversation(system, self.template, self.tactics, question, excerpts, self.tokenizer)
                       + [{"role": "assistant", "content": answer}])
            if self.fits(variant):
                return [variant]
            droppable = [e for e in excerpts if e.number not in quoted]
            if not droppable:
                return []  # even the quoted excerpts alone are too long to train on
            excerpts = [e for e in excerpts if e is not droppable[-1]]
