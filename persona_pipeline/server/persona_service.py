"""The consilium loaded once and shared by every request: one answer at a time, the champion followed.

Answers are computed one after another on one worker thread: the adapters are switched on the one model
per answer (`model.use`), and on a 2-core machine two answers at once would only slow each other down.
Between two answers the registry is checked for a moved alias (a read of the registry's rows, milliseconds
on the SQLite store); when the alias now names other versions, their adapters replace the old ones before
the next answer starts, so no answer ever sees half of a swap.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ..consilium.runtime.adapters import load_adapters, resolve_adapter_dirs
from ..consilium.runtime.loading import open_consilium
from ..consilium.runtime.registry_cache import store_stamp
from ..feedback.store import FeedbackStore
from ..rag_config import load_rag_config
from ..settings import Paths
from ..training.adapters import BASE_TAG, BASE_TAG_CHARS
from ..training.tracking import tracking_uri

# a registry without a readable stamp (a tracking server) is asked at most this often whether the alias moved
REMOTE_REGISTRY_CHECK_SECONDS = 30.0


class Cancelled(Exception):
    """The client went away or the request ran out of time; the answer stops at its next piece."""


class PersonaService:
    def __init__(self, paths: Paths, *, adapter_source: str | None = None, uri: str | None = None,
                 log: Callable[[str], None] = print):
        self.paths, self.log = paths, log
        self.source = adapter_source or load_rag_config(paths.config_path).consilium.adapter_source
        self.uri = tracking_uri(uri)
        self.feedback = FeedbackStore.in_data(paths.data_dir)
        self.consilium = None
        self.error: str | None = None
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consilium")
        self._stamp, self._checked = None, 0.0

    @property
    def ready(self) -> bool:
        return self.consilium is not None

    def load(self) -> None:
        """Index, embedder, base model and adapters, warmed by one answer so that the first person to ask does
        not pay for the lazy loads; the decoder too when answers will generate."""
        try:
            started = time.perf_counter()
            # read before the alias is resolved, so a move while loading is seen on the first check
            self._stamp, self._checked = store_stamp(self.uri), time.monotonic()
            consilium = open_consilium(self.paths, adapter_source=self.source, uri=self.uri, log=self.log)
            consilium.ask("warm-up")
            if consilium.reading and consilium.reading.passed:  # answers will generate: load the model now
                consilium.adapters.model
            self.consilium = consilium
            self.log(f"ready in {time.perf_counter() - started:.1f} s; adapters: {self.adapter_labels()}")
        except Exception as exc:  # /readyz says loading failed; the log says why, and the process stays up
            self.error = f"{type(exc).__name__}: {exc}"
            self.log(f"not ready: {self.error}")

    def adapter_labels(self) -> dict[str, str]:
        return dict(self.consilium.adapters.available) if self.consilium else {}

    def answer(self, question: str, *, cancelled: threading.Event, on_piece: Callable[[str], None],
               max_new_tokens: int | None = None):
        """Runs on the worker thread. Cancelled when `cancelled` is set before or while it answers."""
        if cancelled.is_set():
            raise Cancelled()
        try:
            self.follow_alias()
        except Exception as exc:  # the registry is unreadable now: answer with the adapters loaded, look again next time
            self.log(f"could not check the registry: {type(exc).__name__}: {exc}")

        def emit(piece: str) -> None:
            if cancelled.is_set():
                raise Cancelled()
            on_piece(piece)

        return self.consilium.ask(question, on_token=emit, max_new_tokens=max_new_tokens)

    def follow_alias(self) -> None:
        """On the worker thread, between answers: swap in the adapters the alias names now, if it moved. The
        new adapters are loaded completely (the decoder too, when answers generate) before they replace the old."""
        if self.source.isdigit() or Path(self.source).expanduser().is_dir():
            return  # a version number or a folder never moves
        stamp = store_stamp(self.uri)
        due = time.monotonic() - self._checked >= REMOTE_REGISTRY_CHECK_SECONDS
        if (stamp is not None and stamp == self._stamp) or (stamp is None and not due):
            return
        consilium = self.consilium
        dirs, labels, notes = resolve_adapter_dirs(self.source, self.paths.data_dir / "consilium" / "adapters", self.uri)
        if labels != consilium.adapters.available:
            foreign = self._trained_on_another_base(labels)
            if foreign:
                self.log(f"'{self.source}' moved to {', '.join(foreign)}, trained on another base model than the "
                         f"one loaded ({consilium.base.model_id}): still serving {consilium.adapters.available}; "
                         "restart the server to load the new base")
            else:
                adapters = load_adapters(consilium.base, dirs, labels, notes)
                if consilium.reading and consilium.reading.passed:
                    adapters.model  # loaded here, not by the next person to ask
                consilium.adapters = adapters
                self.log(f"'{self.source}' moved: now serving {labels}")
        self._stamp, self._checked = stamp, time.monotonic()  # only once handled: a failure is retried

    def _trained_on_another_base(self, labels: dict[str, str]) -> list[str]:
        """The versions among `labels` ("persona-core-self v3") whose registry tag names another base model."""
        from mlflow import MlflowClient

        client, revision = MlflowClient(self.uri), self.consilium.base.revision[:BASE_TAG_CHARS]
        foreign = []
        for label in labels.values():
            model, _, version = label.rpartition(" v")
            trained_on = client.get_model_version(model, version).tags.get(BASE_TAG)
            if trained_on is not None and trained_on != revision:
                foreign.append(label)
        return foreign
