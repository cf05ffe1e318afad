"""Where materials are read from and where everything derived is written.

The CLI and the Dagster definitions both resolve paths here, so the same environment variables
(PERSONA_MATERIALS_DIR, PERSONA_DATA_DIR, PERSONA_CONFIG) steer both.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("PERSONA_PROJECT_DIR", Path(__file__).resolve().parents[1]))


def model_cache_dir() -> Path:
    """Derived model files shared by every data folder: the base-model snapshot, embedder speed choices."""
    return Path(os.environ.get("PERSONA_MODEL_CACHE") or Path.home() / ".cache" / "persona_pipeline" / "models")


@dataclass(frozen=True)
class Paths:
    materials_dir: Path
    data_dir: Path
    config_path: Path

    @classmethod
    def resolve(cls, materials: str | os.PathLike | None = None, data: str | os.PathLike | None = None,
                config: str | os.PathLike | None = None) -> "Paths":
        return cls(
            materials_dir=Path(materials or os.environ.get("PERSONA_MATERIALS_DIR") or PROJECT_DIR / "raw_materials").resolve(),
            data_dir=Path(data or os.environ.get("PERSONA_DATA_DIR") or PROJECT_DIR / "data").resolve(),
            config_path=Path(config or os.environ.get("PERSONA_CONFIG") or PROJECT_DIR / "RAG_config.yaml").resolve(),
        )

    @property
    def knowledge_dir(self) -> Path:
        return self.data_dir / "knowledge"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def embedding_cache_dir(self) -> Path:
        return self.data_dir / "embedding_cache"
