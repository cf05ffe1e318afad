"""Answering as the coach: evidence from his own texts first, then his reading of it in his voice.

1. Route the question (which adapters) and retrieve the top excerpts.
2. Quote the sentences that answer it, verbatim, with [n] (evidence.py): the outcome is `direct`. When none
   answers but related passages exist, show the nearest marked as such (`closest`); when nothing related
   was written, say so (`not_written`) and stop.
3. If the base model writes the question's language, the adapters continue a direct answer after the
   quotes: what it means and one next step. Each generated sentence passes the faithfulness guard before
   the user sees it; the ones it drops are listed in the JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ...rag_config import ConsiliumConfig
from ...training.adapters import ADAPTERS
from ...training.settings import TrainingSettings
from . import language, prompting
from ..runtime.adapters import STACKED, LoadedAdapters
from .reading_bar import ReadingVerdict
from .evidence import CLOSEST, DIRECT, NOT_WRITTEN, Evidence, EvidenceScorer, EvidenceSelection
from .faithfulness import DroppedSentence, unfaithful
from ..runtime.generation import sentences, stream
from .routing import Route, Router

if TYPE_CHECKING:  # only an annotation here; importing the retrieval modules would slow `persona ask --no-rag`
    from ...rag.retrieval import Hit

ADAPTER_CHOICES = ("auto", ",".join(STACKED), "core", "none")
# a question may use at most this share of the context, the rest is for excerpts and the answer
MAX_QUESTION_SHARE = 0.5
# evidence candidates listed in --json besides the quotes
CANDIDATES_SHOWN = 5


class AskError(Exception):
    """A question that cannot be answered as asked; the message says what to do."""


@dataclass
class Citation:
    number: int
    source: str
    location: str
    knowledge_type: str
    text: str
    quoted: bool = False

    def to_json(self) -> dict:
        return {"number": self.number, "source": self.source, "location": self.location,
                "knowledge_type": self.knowledge_type, "quoted": self.quoted, "text": self.text}


@dataclass
class Answer:
    question: str
    language: str
    text: str                      # what the user reads: the quotes, then the generated part
    adapters: list[str]
    route: Route | None
    citations: list[Citation] = field(default_factory=list)
    evidence: EvidenceSelection | None = None
    generated: str = ""            # the generated part that passed the guard
    dropped: list[DroppedSentence] = field(default_factory=list)
    abstained: bool = False
    notes: list[str] = field(default_factory=list)
    outcome: str = NOT_WRITTEN     # direct, closest or not_written (evidence.py); direct without retrieval

    def cited_numbers(self) -> list[int]:
        return [c.number for c in self.citations if f"[{c.number}]" in self.text]

    @property
    def sources(self) -> list[Citation]:
        """The excerpts the answer rests on: those quoted or cited in it."""
        cited = set(self.cited_numbers())
        return [c for c in self.citations if c.quoted or c.number in cited]

    def to_json(self) -> dict:
        evidence = self.evidence
        return {"question": self.question, "language": self.language, "answer": self.text,
                "abstained": self.abstained, "outcome": self.outcome,
                "evidence": [_evidence_json(e, self.citations) for e in evidence.shown] if evidence else [],
                "evidence_candidates": ([_evidence_json(e, self.citations) for e in evidence.candidates[:CANDIDATES_SHOWN]]
                                        if evidence else []),
                "unknown_words": evidence.unknown_words if evidence else [],
                "generated": self.generated, "dropped": [d.to_json() for d in self.dropped],
                "adapters": self.adapters,
                "routing": {"sport": self.route.sport, "reason": self.route.reason} if self.route else None,
                "citations": [c.to_json() for c in self.citations], "cited_in_answer": self.cited_numbers(),
                "notes": self.notes}


def _evidence_json(evidence: Evidence, citations: list[Citation]) -> dict:
    citation = citations[evidence.number - 1]
    return {**evidence.to_json(), "source": citation.source, "location": citation.location}


class Consilium:
    def __init__(self, *, tokenizer, adapters: LoadedAdapters, retriever, router: Router, config: ConsiliumConfig,
                 settings: TrainingSettings, scorer: EvidenceScorer | None, base=None,
                 reading: ReadingVerdict | None = None):
        """`base`: the BaseModel the adapters sit on; `reading`: its measured reading bar (reading_bar.py),
        None when never measured."""
        self.tokenizer, self.adapters, self.retriever = tokenizer, adapters, retriever
        self.router, self.config, self.settings, self.scorer = router, config, settings, scorer
        self.base, self.reading = base, reading
        self.template = config.template()

    def choose_adapters(self, question: str, requested: str) -> tuple[list[str], Route | None, list[str]]:
        if requested not in ADAPTER_CHOICES:
            raise AskError(f"--adapters must be one of {', '.join(ADAPTER_CHOICES)}")
        route = self.router.route(question) if requested == "auto" else None
        wanted = {"auto": list(STACKED) if route and route.sport else ["core"],
                  ",".join(STACKED): list(STACKED), "core": ["core"], "none": []}[requested]
        missing = [k for k in wanted if not self.adapters.has(k)]
        notes = [n for n in self.adapters.notes if any(f"no {ADAPTERS[k].title} adapter" in n for k in missing)]
        return [k for k in wanted if self.adapters.has(k)], route, notes

    def messages(self, question: str, citations: list[Citation]) -> list[dict]:
        return prompting.conversation(self.settings.system_prompt, self.template, self.config.tactics, question,
                                      [prompting.Excerpt(c.number, c.source, c.location, c.text) for c in citations],
                                      self.tokenizer)

    def ask(self, question: str, *, adapters: str = "auto", rag: bool = True, k: int | None = None,
            generate: bool = True, on_token: Callable[[str], None] | None = None,
            max_new_tokens: int | None = None, readings: bool | None = None) -> Answer:
        """`generate=False` gives the evidence alone (the quotes, or the abstention). Generated text is shown
        when the base model cleared the reading bar; `readings=True` generates regardless, to measure it."""
        self.check(question)
        emit = on_token or (lambda piece: None)
        lang = language.detect(question)
        used, route, notes = self.choose_adapters(question, adapters)
        hits = self._excerpts(question, k or self.config.top_k) if rag and self.retriever else []
        citations = [Citation(i, h.chunk.source, h.chunk.location_label(), h.chunk.kind, h.chunk.text)
                     for i, h in enumerate(hits, start=1)]
        answer = Answer(question, lang, "", [f"{k}: {self.adapters.available[k]}" for k in used], route, citations,
                        notes=notes + ([] if rag else ["knowledge retrieval switched off (--no-rag)"]),
                        outcome=NOT_WRITTEN if rag else DIRECT)
        opening = ""
        if rag:
            answer.evidence = self.scorer.select(question, [(c.number, c.text, _context(h)) for c, h in zip(citations, hits)])
            answer.outcome = answer.evidence.outcome
            if answer.outcome == NOT_WRITTEN:
                answer.abstained, answer.text = True, language.PHRASES[lang]["abstain"]
                emit(answer.text)
                return answer
            for quote in answer.evidence.shown:
                citations[quote.number - 1].quoted = True
            parts = prompting.opening_parts([(q.number, q.sentence) for q in answer.evidence.shown], lang,
                                            "evidence" if answer.outcome == DIRECT else "closest")
            for part in parts:
                emit(part)
            opening = "".join(parts)
            if answer.outcome == CLOSEST:  # nothing answers it, so there is no fact to read
                answer.text = opening
                return answer
        allowed = readings if readings is not None else bool(self.reading and self.reading.passed)
        writes = language.base_writes(self.settings, lang)
        if generate and writes and not allowed:
            answer.notes.append(self._no_reading_note())
        elif generate and writes:
            answer.generated, answer.dropped = self._reading(question, citations, opening, used, emit,
                                                              max_new_tokens or self.config.max_new_tokens)
        elif generate:
            answer.notes.append(language.multilingual_hint(self.settings, lang))
        answer.text = "\n".join(part for part in (opening, answer.generated) if part)
        if not answer.text:  # without notes, and nothing generated survived the guard
            answer.abstained, answer.text = True, language.PHRASES[lang]["no_rag"]
            emit(answer.text)
        return answer

    def reference_loss(self, question: str, reference: str, *, adapters: str, rag: bool) -> float:
        """Assistant-token loss of a reference answer under one configuration (the prompt `ask` builds)."""
        from ...training.heldout import assistant_token_loss

        used, _, _ = self.choose_adapters(question, adapters)
        hits = self._excerpts(question, self.config.top_k) if rag and self.retriever else []
        citations = [Citation(i, h.chunk.source, h.chunk.location_label(), h.chunk.kind, h.chunk.text)
                     for i, h in enumerate(hits, start=1)]
        messages = self.messages(question, citations) + [{"role": "assistant", "content": reference}]
        with self.adapters.model.use(used):
            return assistant_token_loss(self.adapters.model, self.tokenizer, [messages], self.config.max_context_tokens)

    def _no_reading_note(self) -> str:
        model = self.settings.base_model
        if self.reading is None:
            return (f"only his own words are shown: the base model {model} has not been measured against the "
                    "reading bar yet (`persona eval` measures it)")
        return f"only his own words are shown: the base model {model} did not clear the reading bar: {self.reading.describe()}"

    def _excerpts(self, question: str, k: int) -> list[Hit]:
        """The retriever's pool, of which the `k` excerpts nearest the question in meaning are kept."""
        pool = self.retriever.search(question, k=max(k, self.config.evidence_pool))
        return self.scorer.rerank(question, pool, k)

    def check(self, question: str) -> None:
        """AskError when the question is empty or too long for the model's context."""
        if not question or not question.strip():
            raise AskError("the question is empty")
        limit = int(self.config.max_context_tokens * MAX_QUESTION_SHARE)
        tokens = len(self.tokenizer(question, add_special_tokens=False)["input_ids"])
        if tokens > limit:
            raise AskError(f"the question is {tokens} tokens long; at most {limit} fit the model's context "
                           "with room for the answer: shorten it")

    def _reading(self, question: str, citations: list[Citation], opening: str, used: list[str],
                 emit: Callable[[str], None], max_new_tokens: int) -> tuple[str, list[DroppedSentence]]:
        """The adapters' continuation after the quotes, sentence by sentence through the faithfulness guard."""
        # every excerpt, as in retrieval-augmented training; unquoted ones go first when the prompt is too long
        shown = sorted(citations, key=lambda c: (not c.quoted, c.number))
        messages = self.messages(question, shown)
        while shown and self._prompt_tokens(messages, opening) > self.config.max_context_tokens:
            shown.pop()
            messages = self.messages(question, sorted(shown, key=lambda c: c.number))
        lead = prompting.reading_lead(language.detect(question)) if opening else ""
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.tokenizer(prompt + (opening + "\n" + lead if opening else ""), return_tensors="pt",
                                add_special_tokens=False)
        support = "\n".join([question, *(c.text for c in citations)])
        kept, dropped = [], []
        pieces = stream(self.adapters.model, self.tokenizer, inputs, max_new_tokens, used)
        for sentence in sentences(pieces):
            reason = unfaithful(sentence, support, self.settings.base_model_languages, [question, opening, *kept],
                                len(citations))
            if reason:
                dropped.append(DroppedSentence(sentence, reason))
                continue
            emit((f"\n{lead} " if opening and not kept else " " if kept else "") + sentence)
            kept.append(sentence)
        return " ".join([lead, *kept] if lead else kept) if kept else "", dropped

    def _prompt_tokens(self, messages: list[dict], opening: str) -> int:
        prompt = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return len(self.tokenizer(prompt + opening + "\n", add_special_tokens=False)["input_ids"])


def _context(hit: Hit) -> str:
    return f"{hit.chunk.title}\n{hit.chunk.heading or ''}"
