"""Everything `persona ask` needs, loaded once: base model, adapters, knowledge index, embedder, router."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...rag_config import RagConfig, load_rag_config
from ...settings import Paths
from ...sft.validation import load_and_validate
from ...training.adapters import ADAPTERS
from ...training.base_model import prepare_base_model
from ...training.settings import TrainingSettings
from .adapters import load_adapters, resolve_adapter_dirs
from ..answer.answering import AskError, Consilium
from .chat_tokenizer import load_chat_tokenizer
from ..answer.evidence import DocumentFrequencies, EvidenceScorer
from ..answer import reading_bar
from .meaning import open_encoder
from ..answer.raft import EvidenceAugmenter
from ..answer.routing import Router

if TYPE_CHECKING:
    from ...rag.retrieval import Retriever

# The knowledge index's modules (index store, faiss, embedder) and the SFT datasets' (datasets, pandas,
# pyarrow) are imported where they are used, not here: `persona ask --no-rag` needs neither, and importing
# them cost about 0.6 s of its cold start.


def open_evidence(paths: Paths, config: RagConfig) -> tuple[Retriever, EvidenceScorer]:
    """The knowledge index's retriever and the evidence scorer over it; IndexNotFound when there is none."""
    from ...rag.retrieval import open_retriever

    retriever = open_retriever(paths.index_dir, config)
    return retriever, EvidenceScorer(DocumentFrequencies.from_index(retriever.index),
                                     open_encoder(config.consilium.meaning_model))


def retrieval_augmenter(paths: Paths, settings: TrainingSettings, tokenizer) -> EvidenceAugmenter:
    """Retrieval-augmented variants for the SFT datasets, in the prompt shape `persona ask` uses."""
    from ...sft.adapter_data import conversation_counter

    config = load_rag_config(paths.config_path)
    retriever, scorer = open_evidence(paths, config)
    count = conversation_counter(tokenizer)
    fits = lambda messages: count(messages) <= settings.max_seq_length  # noqa: E731
    consilium = config.consilium
    return EvidenceAugmenter(retriever, scorer, consilium.template(), consilium.tactics, consilium.top_k, tokenizer, fits)


def open_consilium(paths: Paths, *, settings: TrainingSettings | None = None, adapter_source: str | None = None,
                   uri: str | None = None, rag: bool = True, log=lambda message: None) -> Consilium:
    """`settings`: the run's training settings (base model, system prompt, languages); the defaults when None."""
    config = load_rag_config(paths.config_path)
    settings = settings or TrainingSettings()
    retriever, embedder, scorer = None, None, None
    if rag:
        from ...rag.index_store import IndexNotFound

        try:
            retriever, scorer = open_evidence(paths, config)
        except IndexNotFound as exc:
            raise AskError(f"{exc}; or ask with --no-rag") from exc
        embedder = retriever.embedder
    base = prepare_base_model(settings.base_model, log=log)
    tokenizer = load_chat_tokenizer(base)
    dirs, labels, notes = resolve_adapter_dirs(adapter_source or config.consilium.adapter_source,
                                               paths.data_dir / "consilium" / "adapters", uri)
    adapters = load_adapters(base, dirs, labels, notes)
    if embedder is None:  # --no-rag: the router has only its lexicon, reading the examples would be wasted
        router = Router()
    else:
        prompts = _training_prompts(paths)
        router = Router(embedder, prompts["sport"], prompts["core"])
    return Consilium(tokenizer=tokenizer, adapters=adapters, retriever=retriever, router=router, config=config.consilium,
                     settings=settings, scorer=scorer, base=base,
                     reading=reading_bar.load(paths.data_dir, base.model_id, base.revision))


def _training_prompts(paths: Paths) -> dict[str, list[str]]:
    """Each adapter's training prompts: the user turn of its worldview examples."""
    return {key: [e.messages[0 if e.messages[0]["role"] == "user" else 1]["content"]
                  for e in load_and_validate(paths.materials_dir / spec.examples_folder, paths.materials_dir)[0]]
            for key, spec in ADAPTERS.items()}
