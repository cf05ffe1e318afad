"""Answering as the coach: route, retrieve, fill the prompt template, generate with the right adapters."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..rag.retrieval import Hit
from .adapters import COMBINED, LoadedAdapters
from .config import ConsiliumConfig
from .quoting import without_control_tokens
from .routing import Route, Router

ADAPTER_CHOICES = ("auto", "core,sport", "core", "none")


class AskError(Exception):
    """A question that cannot be answered as asked; the message says what to do."""


@dataclass
class Citation:
    number: int
    source: str
    location: str
    knowledge_type: str
    text: str

    def to_json(self) -> dict:
        return {"number": self.number, "source": self.source, "location": self.location,
                "knowledge_type": self.knowledge_type, "text": self.text}


@dataclass
class Answer:
    question: str
    text: str
    adapters: list[str]
    route: Route | None
    citations: list[Citation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cited_numbers(self) -> list[int]:
        return [c.number for c in self.citations if f"[{c.number}]" in self.text]

    def to_json(self) -> dict:
        return {"question": self.question, "answer": self.text, "adapters": self.adapters,
                "routing": {"sport": self.route.sport, "reason": self.route.reason} if self.route else None,
                "citations": [c.to_json() for c in self.citations], "cited_in_answer": self.cited_numbers(),
                "notes": self.notes}


class Consilium:
    def __init__(self, *, tokenizer, adapters: LoadedAdapters, retriever, router: Router, config: ConsiliumConfig,
                 system_prompt: str):
        self.tokenizer, self.adapters, self.retriever = tokenizer, adapters, retriever
        self.router, self.config, self.system_prompt = router, config, system_prompt
        self.template = config.template()

    def choose_adapters(self, question: str, requested: str) -> tuple[list[str], Route | None, list[str]]:
        if requested not in ADAPTER_CHOICES:
            raise AskError(f"--adapters must be one of {', '.join(ADAPTER_CHOICES)}")
        route = self.router.route(question) if requested == "auto" else None
        wanted = {"auto": ["core", "sport"] if route and route.sport else ["core"],
                  "core,sport": ["core", "sport"], "core": ["core"], "none": []}[requested]
        missing = [k for k in wanted if not self.adapters.has(k)]
        notes = [n for n in self.adapters.notes if any(f"`persona train {k}`" in n for k in missing)]
        return [k for k in wanted if self.adapters.has(k)], route, notes

    def messages(self, question: str, hits: list[Hit]) -> tuple[list[dict], list[Citation]]:
        citations = [Citation(i, h.chunk.source, h.chunk.location_label(), h.chunk.kind, h.chunk.text)
                     for i, h in enumerate(hits, start=1)]
        context = ""
        if citations:
            context = "Notes from your own writing:\n" + "\n".join(
                f"[{c.number}] ({c.source}, {c.location}) {without_control_tokens(c.text, self.tokenizer)}"
                for c in citations) + "\n"
        prompt = self.template.format(tactics=self.config.tactics, context=context, question=question.strip())
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}], citations

    def ask(self, question: str, *, adapters: str = "auto", rag: bool = True, k: int | None = None,
            on_token: Callable[[str], None] | None = None, max_new_tokens: int | None = None) -> Answer:
        if not question or not question.strip():
            raise AskError("the question is empty")
        question_tokens = len(self.tokenizer(question, add_special_tokens=False)["input_ids"])
        if question_tokens > self.config.max_context_tokens // 2:
            raise AskError(f"the question is {question_tokens} tokens long; at most {self.config.max_context_tokens // 2} "
                           "fit the model's context with room for the answer: shorten it")
        used, route, notes = self.choose_adapters(question, adapters)
        hits = self.retriever.search(question, k=k or self.config.top_k) if rag and self.retriever else []
        messages, citations = self.messages(question, hits)
        while citations and self._prompt_tokens(messages) > self.config.max_context_tokens:
            citations.pop()  # drop the lowest-ranked excerpt until the prompt fits
            messages, citations = self.messages(question, hits[: len(citations)])
        text = self._generate(messages, used, on_token, max_new_tokens or self.config.max_new_tokens)
        return Answer(question, text, [f"{k}: {self.adapters.available[k]}" for k in used], route, citations,
                      notes + ([] if rag else ["knowledge retrieval switched off (--no-rag)"]))

    def reference_loss(self, question: str, reference: str, *, adapters: str, rag: bool) -> float:
        """Assistant-token loss of a reference answer under one configuration (same prompt as `ask`)."""
        from ..training.heldout import assistant_token_loss

        used, _, _ = self.choose_adapters(question, adapters)
        hits = self.retriever.search(question, k=self.config.top_k) if rag and self.retriever else []
        messages, _ = self.messages(question, hits)
        messages = messages + [{"role": "assistant", "content": reference}]
        with self._adapter_context(used):
            return assistant_token_loss(self.adapters.model, self.tokenizer, [messages], 4096)

    def _prompt_tokens(self, messages: list[dict]) -> int:
        return len(self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])

    def _generate(self, messages, used: list[str], on_token, max_new_tokens: int) -> str:
        import torch
        from transformers import TextIteratorStreamer

        model = self.adapters.model
        inputs = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**inputs, max_new_tokens=max_new_tokens, do_sample=False, repetition_penalty=1.15,
                      pad_token_id=self.tokenizer.pad_token_id, streamer=streamer)
        error: list[BaseException] = []

        def run():
            try:
                with torch.no_grad(), self._adapter_context(used):
                    model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the caller's thread
                error.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        pieces = []
        for piece in streamer:
            pieces.append(piece)
            if on_token:
                on_token(piece)
        thread.join()
        if error:
            raise error[0]
        return "".join(pieces).strip()

    def _adapter_context(self, used: list[str]):
        model = self.adapters.model
        if not self.adapters.available:
            return contextlib.nullcontext()
        if not used:
            return model.disable_adapter()
        model.set_adapter(COMBINED if len(used) == 2 else used[0])
        return contextlib.nullcontext()
