"""The conversation the adapters see: one shape for answering and for retrieval-augmented training, so an
adapter trained on it meets the same prompt at `persona ask`."""
from __future__ import annotations

from dataclasses import dataclass

from . import language
from .quoting import without_control_tokens


@dataclass
class Excerpt:
    number: int
    source: str
    location: str
    text: str


def conversation(system_prompt: str, template: str, tactics: str, question: str, excerpts: list[Excerpt],
                 tokenizer) -> list[dict]:
    """The system prompt and the user turn: tactics, the numbered excerpts, the question. An excerpt is data
    inside the user turn, with the model's control tokens taken out; nothing in it can change the system
    prompt or the tactics."""
    context = ""
    if excerpts:
        context = "Notes from your own writing:\n" + "\n".join(
            f"[{e.number}] ({e.source}, {e.location}) {without_control_tokens(e.text, tokenizer)}" for e in excerpts) + "\n"
    prompt = template.format(tactics=tactics, context=context, question=question.strip())
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]


def opening(quotes: list[tuple[int, str]], lang: str, lead: str = "evidence") -> str:
    """The answer's first line: the coach's own sentences, verbatim, each with the [n] of its excerpt, after
    the lead that says whether they answer the question ("evidence") or are only the nearest ("closest")."""
    return "".join(opening_parts(quotes, lang, lead))


def opening_parts(quotes: list[tuple[int, str]], lang: str, lead: str = "evidence") -> list[str]:
    """`opening` in the pieces a stream shows one after another: the lead, then each quote."""
    left, right = language.QUOTES[lang]
    return [language.PHRASES[lang][lead]] + [f" {left}{sentence}{right} [{n}]" for n, sentence in quotes]


def reading_lead(lang: str) -> str:
    """What the generated part after the quotes starts with, in the coach's own order: facts (the quotes),
    what they mean, one next step."""
    return language.PHRASES[lang]["reading"]
