"""The coach's corrections from the chat page as candidate worldview examples, waiting for a person."""
import html
import re

import dagster as dg

from ..excerpts import shorten
from .grouping import SFT, in_group
from .metadata import markdown_table
from .resources import PersonaPaths, TrainingSettingsResource

# characters of a question or correction shown in the asset's table
SHOWN_CHARS = 120
# what Markdown would read as a link, an image, emphasis or a heading; `|` is escaped by markdown_table
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!~>-])")


@dg.asset(kinds={"sqlite"},
          description="Corrections left on the chat page, validated like the hand-written worldview examples, written "
                      "under data/feedback/candidates/ until a person accepts them (`persona feedback accept ID`).")
def feedback_candidates(context: dg.AssetExecutionContext, persona_paths: PersonaPaths,
                        training_settings: TrainingSettingsResource) -> dg.MaterializeResult:
    from ..feedback.candidates import CANDIDATES_DIR, review_candidates
    from ..feedback.store import FeedbackStore
    from ..training.base_model import load_tokenizer, prepare_base_model

    paths, settings = persona_paths.paths(), training_settings.settings()
    store = FeedbackStore.in_data(paths.data_dir)
    # the base model's chat template decides whether a candidate fits the training context
    tokenizer = load_tokenizer(prepare_base_model(settings.base_model, log=context.log.info))
    candidates = review_candidates(store, paths, settings, tokenizer)
    valid = [c for c in candidates if not c.problems]
    for candidate in candidates:
        for problem in candidate.problems:
            context.log.warning(f"correction {candidate.correction.id}: {problem}")
    counts = store.counts()
    rows = [[c.correction.id, c.adapter, _escaped(c.correction.question), _escaped(c.correction.correction),
             "; ".join(_escaped(p) for p in c.problems) or "valid"] for c in candidates]
    return dg.MaterializeResult(metadata={
        "waiting_for_review": dg.MetadataValue.int(len(valid)),
        "invalid": dg.MetadataValue.int(len(candidates) - len(valid)),
        "accepted": dg.MetadataValue.int(counts["corrections_accepted"]),
        "rejected": dg.MetadataValue.int(counts["corrections_rejected"]),
        "answers_served": dg.MetadataValue.int(counts["answers"]),
        "rated_up": dg.MetadataValue.int(counts["rated_up"]),
        "rated_down": dg.MetadataValue.int(counts["rated_down"]),
        "candidates_folder": dg.MetadataValue.path(str(paths.data_dir / CANDIDATES_DIR)),
        "corrections": dg.MetadataValue.md(markdown_table(["id", "adapter", "question", "his answer", "validation"], rows)
                                           if rows else "no correction is waiting for review"),
    })


def _escaped(text: str) -> str:
    """Feedback is data: shown as its characters, never read as HTML, a link or an image."""
    return _MARKDOWN.sub(r"\\\1", html.escape(shorten(text, SHOWN_CHARS)))


defs = dg.Definitions(assets=in_group(SFT, feedback_candidates))
