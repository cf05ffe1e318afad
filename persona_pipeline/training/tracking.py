"""MLflow: where runs are stored, and the adapter registry with its champion alias.

mlflow is imported inside the functions that talk to it: importing it takes seconds, and the URL
helpers here serve the Dagster definitions and `persona ask`, which often need no MLflow at all.
"""
from __future__ import annotations

import json
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

from ..processes import is_running
from ..settings import PROJECT_DIR
from .adapters import CHAMPION

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

EXPERIMENT = "persona-adapters"
DEFAULT_STORE = PROJECT_DIR / "mlruns"
DEFAULT_UI = "http://127.0.0.1:5000"  # where the README's `mlflow ui` command serves the local store
OWNER_TAG = "persona.owner"  # host:pid of the process that trains the run
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
INVALID_PARAMETER = "INVALID_PARAMETER_VALUE"
T = TypeVar("T")


class TrackingUnreachable(Exception):
    """The MLflow tracking server did not answer: not the same as "nothing registered yet"."""


def tracking_uri(explicit: str | None = None) -> str:
    """MLFLOW_TRACKING_URI (a server or another store) wins; else a SQLite file inside the project."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_STORE / 'mlflow.db'}"


def ui_url(uri: str) -> str:
    """Where a person opens runs of this store: the tracking server itself, else PERSONA_MLFLOW_UI or the
    README's local `mlflow ui` address."""
    if uri.startswith(("http://", "https://")):
        return uri.rstrip("/")
    return os.environ.get("PERSONA_MLFLOW_UI", DEFAULT_UI).rstrip("/")


def run_url(uri: str, experiment_id: str, run_id: str) -> str:
    return f"{ui_url(uri)}/#/experiments/{experiment_id}/runs/{run_id}"


def model_version_url(uri: str, name: str, version: str) -> str:
    return f"{ui_url(uri)}/#/models/{name}/versions/{version}"


def use_experiment(uri: str, name: str = EXPERIMENT) -> str:
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if uri.startswith("sqlite:///"):
            # artifacts beside the SQLite file, not in the current working directory
            location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def register_version(client: MlflowClient, name: str, run_id: str, artifact_path: str = "adapter", tags: dict | None = None):
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name, description="LoRA adapter of persona_pipeline")
    except MlflowException as exc:
        if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
            raise
    source = f"{client.get_run(run_id).info.artifact_uri}/{artifact_path}"
    return client.create_model_version(name, source=source, run_id=run_id, tags={k: str(v) for k, v in (tags or {}).items()})


def champion(client: MlflowClient, name: str):
    return registry_lookup(lambda: client.get_model_version_by_alias(name, CHAMPION), client.tracking_uri)


def latest_version(client: MlflowClient, name: str):
    """The newest registered version of `name`, or None."""
    versions = registry_lookup(lambda: client.search_model_versions(f"name='{name}'"), client.tracking_uri) or []
    return max(versions, key=lambda v: int(v.version), default=None)


def registry_lookup(lookup: Callable[[], T], uri: str) -> T | None:
    """`lookup()`'s answer, or None when the registry has no such model, version or alias. A server that
    cannot be reached is a TrackingUnreachable that says so in one line; other MLflow errors pass unchanged."""
    from mlflow.exceptions import MlflowException

    try:
        return lookup()
    except MlflowException as exc:
        if _not_in_registry(exc):
            return None
        reason = _connection_failure(exc)
        if reason is None:
            raise
        raise TrackingUnreachable(f"cannot connect to the MLflow tracking server at {uri} ({reason}); "
                                  "start it, or point MLFLOW_TRACKING_URI at one that runs") from exc


def _not_in_registry(exc) -> bool:
    # MLflow's stores report a missing alias ("Registered model alias champion not found.") as an invalid
    # parameter, not as a missing resource
    missing_alias = exc.error_code == INVALID_PARAMETER and "alias" in exc.message and "not found" in exc.message
    return exc.error_code == NOT_FOUND or missing_alias


def _connection_failure(exc: BaseException) -> str | None:
    """Why no connection was made (e.g. "Connection refused"), when a failed connection is what `exc` reports.
    MLflow wraps the requests error in a generic exception, so the cause is found along the exception chain."""
    import requests

    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    if not any(isinstance(e, requests.exceptions.ConnectionError) for e in chain):
        return None
    return next((e.strerror for e in reversed(chain) if isinstance(e, OSError) and e.strerror), "no connection")


def download_version(version, target: Path, uri: str) -> Path:
    """The version's files from wherever the store keeps them (a folder, or a tracking server's
    proxied `mlflow-artifacts:` store, which only that server resolves)."""
    import mlflow

    target.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(target),
                                                    tracking_uri=uri, registry_uri=uri))


def owner_tags() -> dict[str, str]:
    return {OWNER_TAG: f"{socket.gethostname()}:{os.getpid()}"}


def close_abandoned_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark KILLED the runs still RUNNING whose training process on this machine is gone (killed, so it
    never ended its run); runs of live processes and of other machines are left alone. Returns their ids."""
    host = socket.gethostname()
    closed = []
    for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'"):
        owner_host, _, pid = run.data.tags.get(OWNER_TAG, "").rpartition(":")
        if owner_host == host and pid.isdigit() and not is_running(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
            closed.append(run.info.run_id)
    return closed


class RunLogger:
    """The adapter pipeline's one door to MLflow: an experiment, its registry, and the run being logged.
    Creating one imports mlflow and selects the experiment."""

    def __init__(self, uri: str | None = None, experiment: str = EXPERIMENT):
        import mlflow

        self._mlflow = mlflow  # imported here, not with the module: see the module docstring
        self.uri = tracking_uri(uri)
        self.experiment_id = use_experiment(self.uri, experiment)
        self.client = mlflow.MlflowClient(self.uri)
        self.run_id: str | None = None

    def close_abandoned_runs(self) -> list[str]:
        return close_abandoned_runs(self.client, self.experiment_id)

    @contextmanager
    def new_run(self, name: str, tags: dict[str, str]) -> Iterator[RunLogger]:
        """A run tagged with the process that owns it, so a later one can tell it was abandoned."""
        with self._mlflow.start_run(run_name=name, tags={**tags, **owner_tags()}) as run:
            self.run_id = run.info.run_id
            yield self

    @contextmanager
    def reopened(self, run_id: str) -> Iterator[RunLogger]:
        with self._mlflow.start_run(run_id=run_id):
            self.run_id = run_id
            yield self

    def log_params(self, params: dict) -> None:
        # MLflow stores parameters as strings; a list as JSON reads back unambiguously
        self._mlflow.log_params({k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics(metrics, step=step)

    def set_tags(self, tags: dict[str, str]) -> None:
        self._mlflow.set_tags(tags)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._mlflow.log_text(text, artifact_file)

    def log_table(self, columns: dict[str, list], artifact_file: str) -> None:
        self._mlflow.log_table(columns, artifact_file=artifact_file)

    def log_figure(self, figure, artifact_file: str) -> None:
        self._mlflow.log_figure(figure, artifact_file)

    def log_artifacts(self, folder: Path, artifact_path: str) -> None:
        self._mlflow.log_artifacts(str(folder), artifact_path=artifact_path)

    def log_dataset(self, frame: pd.DataFrame, *, source: Path, name: str, digest: str, context: str) -> None:
        with warnings.catch_warnings():
            # MLflow registers its local-path source twice and warns that a path "can be interpreted in
            # multiple ways" (both the same class); nothing for a user to act on
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
            dataset = self._mlflow.data.from_pandas(frame, source=str(source), name=name, digest=digest)
        self._mlflow.log_input(dataset, context=context)

    def register(self, name: str, tags: dict) -> str:
        """This run's adapter as a new version of the registered model `name`; its version number."""
        return str(register_version(self.client, name, self.run_id, tags=tags).version)

    def log_dict(self, value: dict, artifact_file: str) -> None:
        self._mlflow.log_dict(value, artifact_file)

    def latest_version(self, name: str):
        """The newest registered version of `name`, or None."""
        return latest_version(self.client, name)

    def model_version(self, name: str, version: str):
        return self.client.get_model_version(name, version)

    def champion(self, name: str):
        return champion(self.client, name)

    def make_champion(self, name: str, version: str) -> None:
        self.client.set_registered_model_alias(name, CHAMPION, version)

    def tag_version(self, name: str, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(name, version, key, value)

    def download(self, version, target: Path) -> Path:
        return download_version(version, target, self.uri)
