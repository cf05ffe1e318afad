"""Which language a text is in, and the few fixed phrases the consilium says in each.

The coach writes Russian and English, so the script decides: Cyrillic letters make a text Russian,
Latin letters English. A statistical language identifier would add a dependency and still confuse
the two on short, number-heavy questions ("Темп 4:05?"), which the script never does.
"""
from __future__ import annotations

import re

from ...training.settings import TrainingSettings

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")
SCRIPTS = {"ru": _CYRILLIC, "en": _LATIN}
# below this share of its letters in a language's script, a text is not "in" that language
MIN_SCRIPT_SHARE = 0.7

PHRASES = {
    "en": {"evidence": "From my notes:", "abstain": "I have not written about this.",
           "closest": "I have not written exactly this. Closest to it, I wrote:",
           "no_rag": "I cannot answer this without my notes.", "reading": "What it means:"},
    "ru": {"evidence": "Из моих записей:", "abstain": "Я об этом не писал.",
           "closest": "Именно об этом я не писал. Ближе всего к этому:",
           "no_rag": "Без своих записей я на это не отвечу.", "reading": "Что это значит:"},
}
QUOTES = {"en": ("\u201c", "\u201d"), "ru": ("\u00ab", "\u00bb")}
MULTILINGUAL_HINT = ("the base model {model} writes {writes} only, so the coach's reading is left out and only his "
                     "own words are quoted; to have it written in {language}, set `base_model` (and "
                     "`base_model_languages`) in the project's training.yaml (beside RAG_config.yaml) to a "
                     "multilingual instruct model in a local folder or the local Hugging Face cache, e.g. "
                     "Qwen/Qwen2.5-0.5B-Instruct with languages [en, ru], and retrain the adapters")
NAMES = {"en": "English", "ru": "Russian"}


def detect(text: str) -> str:
    """'ru' or 'en' by the letters' script; a text with no letters counts as English."""
    cyrillic, latin = len(_CYRILLIC.findall(text)), len(_LATIN.findall(text))
    return "ru" if cyrillic > latin else "en"


def written_in(text: str, language: str) -> bool:
    """Whether the letters of `text` are (almost all) in the script of `language`; no letters counts as yes."""
    letters = len(_CYRILLIC.findall(text)) + len(_LATIN.findall(text))
    return not letters or len(SCRIPTS[language].findall(text)) / letters >= MIN_SCRIPT_SHARE


def base_writes(settings: TrainingSettings, language: str) -> bool:
    return language in settings.base_model_languages


def multilingual_hint(settings: TrainingSettings, language: str) -> str:
    return MULTILINGUAL_HINT.format(model=settings.base_model, language=NAMES.get(language, language),
                                    writes=", ".join(NAMES.get(code, code) for code in settings.base_model_languages))
