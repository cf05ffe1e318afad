"""Registry alias or version -> version -> local adapter folder, remembered between `persona ask` runs.

Asking the MLflow registry costs seconds (importing mlflow, opening the store) on every question. With
the local SQLite store, the registry's own rows (every version with its status, location and last update,
every alias) are read with the standard library as a stamp: while they are unchanged, the answer the
client gave last time still holds and mlflow is not imported. Runs, metrics and artifacts logged since
(a training run in progress, an evaluation) leave the stamp as it was; the answer itself always comes
from MLflow's client. A store whose tables cannot be read so (a remote tracking server, another schema)
has no stamp and is asked every time; its downloaded folders are still reused.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from ...atomic import write_text

MAPPING = "registry_cache.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# what a version or alias change touches in MLflow's SQLite schema
REGISTRY_ROWS = (
    "SELECT version_num FROM alembic_version",
    "SELECT name, version, status, storage_location, last_updated_time FROM model_versions ORDER BY name, version",
    "SELECT name, alias, version FROM registered_model_aliases ORDER BY name, alias",
)


class RegistryCache:
    def __init__(self, uri: str, folder: Path):
        self.uri, self.folder = uri, folder
        self.file = folder / MAPPING
        self.stamp = store_stamp(uri)
        try:
            saved = json.loads(self.file.read_text())
        except (OSError, ValueError):
            saved = {}
        self.entries = saved.get("entries", {}) if saved.get("uri") == uri and saved.get("stamp") == self.stamp else {}
        self.changed = False
        self._client = None

    def resolve(self, model: str, source: str) -> tuple[str, Path] | None:
        """(version, local folder) for `source` (an alias or a version number), or None if the registry has none."""
        entry = self.entries.get(f"{model}@{source}")
        if self.stamp is not None and entry and _complete(Path(entry["dir"])):
            return entry["version"], Path(entry["dir"])
        from ...training.tracking import download_version, registry_lookup

        version = registry_lookup(lambda: self.client.get_model_version(model, source) if source.isdigit()
                                  else self.client.get_model_version_by_alias(model, source), self.uri)
        if version is None:
            return None
        target = self.folder / f"{model}-v{version.version}"
        local = _adapter_folder(target) or download_version(version, target, self.uri)
        self.entries[f"{model}@{source}"] = {"version": str(version.version), "dir": str(local)}
        self.changed = True
        return str(version.version), local

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.uri)
        return self._client

    def save(self) -> None:
        if self.changed and self.stamp is not None:
            write_text(self.file, json.dumps({"uri": self.uri, "stamp": self.stamp, "entries": self.entries}, indent=1))


def store_stamp(uri: str) -> list | None:
    """The SQLite store's registry rows, or None where they cannot be read."""
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///"))
    try:  # read-only: a missing database is an error here, not a new empty file
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as store:
            return [[list(row) for row in store.execute(query)] for query in REGISTRY_ROWS]
    except sqlite3.Error:
        return None


def _complete(folder: Path) -> bool:
    return all((folder / name).exists() for name in ADAPTER_FILES)


def _adapter_folder(target: Path) -> Path | None:
    """A complete folder downloaded by an earlier run: versions never change, so it is reused as it is."""
    found = [p.parent for p in sorted(target.rglob(ADAPTER_FILES[0]))] if target.is_dir() else []
    return next((folder for folder in found if _complete(folder)), None)
