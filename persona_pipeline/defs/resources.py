"""Resources are the seams: where materials live, which knowledge config, which embedder and which training settings."""
from __future__ import annotations

from functools import lru_cache

import dagster as dg

from ..rag.embedding import Embedder, open_embedder
from ..rag_config import RagConfig, load_rag_config
from ..settings import Paths
from ..training.settings import TrainingSettings
from ..training.tracking import tracking_uri


class PersonaPaths(dg.ConfigurableResource):
    """Materials folder, data folder and knowledge-types config. Defaults come from PERSONA_MATERIALS_DIR,
    PERSONA_DATA_DIR and PERSONA_CONFIG when the definitions load, so the UI and the CLI agree."""

    materials_dir: str
    data_dir: str
    config_path: str

    @classmethod
    def from_environment(cls, materials: str | None = None, data: str | None = None) -> "PersonaPaths":
        paths = Paths.resolve(materials, data)
        return cls(materials_dir=str(paths.materials_dir), data_dir=str(paths.data_dir), config_path=str(paths.config_path))

    def paths(self) -> Paths:
        return Paths.resolve(self.materials_dir, self.data_dir, self.config_path)

    def rag_config(self) -> RagConfig:
        return load_rag_config(self.paths().config_path)


class MlflowTracking(dg.ConfigurableResource):
    """Where runs and adapter versions are tracked; empty means MLFLOW_TRACKING_URI or the project's SQLite store."""

    tracking_uri: str = ""

    def uri(self) -> str:
        return tracking_uri(self.tracking_uri or None)


class EmbedderResource(dg.ConfigurableResource):
    """A sentence-transformers embedder; empty `model` means the one named in the knowledge config."""

    model: str = ""
    batch_size: int = 0

    def load(self, config: RagConfig) -> Embedder:
        return _cached_embedder(self.model or config.embedding.model, self.batch_size or config.embedding.batch_size)


@lru_cache(maxsize=2)
def _cached_embedder(model: str, batch_size: int) -> Embedder:
    # one load per process: the in-process executor runs every asset of a run in the same process
    return open_embedder(model, batch_size)


class TrainingSettingsResource(TrainingSettings, dg.ConfigurableResource):
    """The training settings of a run, defaults from the package with the project's training.yaml over them. One resource, so
    the SFT datasets, the LoRA adapters, their evaluation and consilium_eval all see the same values: a
    Launchpad edit (resources: training_settings: config) reaches every adapter asset of that run."""

    def settings(self) -> TrainingSettings:
        return TrainingSettings.model_validate(self.model_dump())
