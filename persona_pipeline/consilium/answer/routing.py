"""Is a question about the coach's sports domain? Decides whether SportMind joins CoreSelf.

Two signals, both printable: stems of sports vocabulary in Russian and English (the default embedder
reads English only, so Russian needs the lexicon), then, when no term matches, which adapter's training
prompts the question is closer to in embedding space.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...rag.lexical import tokenize

# stems as produced by rag.lexical.tokenize (Snowball Russian / English)
SPORT_STEMS = frozenset(tokenize(
    "run runner running race racing marathon half-marathon 5000 10000 km kilometre metres pace tempo threshold "
    "interval intervals repetitions reps splits lap track hill hills training workout session athlete athletes "
    "coach coaching heart rate pulse bpm lactate VO2 aerobic base mileage volume taper carbohydrate recovery "
    "injury achilles shin hamstring calf stretching warm-up cooldown altitude camp kick drafting sprint stride "
    "cadence shoes championship competition start finish PB personal best "
    "бег бегун бегать пробежка забег марафон полумарафон километр темп порог интервал отрезок круг стадион "
    "горка тренировка тренироваться спортсмен тренер пульс лактат аэробный база объём подводка углеводы "
    "восстановление травма ахилл голень разминка высота сбор добивание рывок ускорение кроссовки чемпионат "
    "соревнование старт финиш рекорд лыжи нагрузка нагрузки"))


@dataclass
class Route:
    sport: bool
    reason: str


class Router:
    def __init__(self, embedder=None, sport_prompts: list[str] | None = None, core_prompts: list[str] | None = None,
                 margin: float = 0.02):
        self.embedder, self.margin = embedder, margin
        self.prompts = (sport_prompts, core_prompts) if embedder is not None and sport_prompts and core_prompts else None
        self._centroids = None

    @property
    def centroids(self):
        # embedded on the first question the lexicon cannot decide, not at start-up
        if self._centroids is None and self.prompts is not None:
            self._centroids = tuple(_centroid(self.embedder, texts) for texts in self.prompts)
        return self._centroids

    def route(self, question: str) -> Route:
        hits = sorted({t for t in tokenize(question) if t in SPORT_STEMS})
        if hits:
            return Route(True, f"sports terms in the question: {', '.join(hits)}")
        if self.centroids is None:
            return Route(False, "no sports terms in the question")
        vector = self.embedder.embed_query(question)
        sport, core = (float(vector @ c) for c in self.centroids)
        if sport > core + self.margin:
            return Route(True, f"no sports terms, but closer to SportMind's examples (cosine {sport:.2f} vs {core:.2f})")
        return Route(False, f"no sports terms; closer to CoreSelf's examples (cosine {core:.2f} vs {sport:.2f})")


def _centroid(embedder, texts: list[str]) -> np.ndarray:
    vectors = embedder.embed(texts)
    mean = vectors.mean(axis=0)
    return mean / np.linalg.norm(mean)
