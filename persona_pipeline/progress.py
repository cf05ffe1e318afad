"""Progress of long work (embedding, training, evaluation): a line with rate and ETA in the run log every few
seconds, and, when the CLI runs in a terminal, a live bar with ETA instead of those lines on screen."""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from tqdm import tqdm

Log = Callable[[str], None]

_terminal: TextIO | None = None
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar:24}| {n_fmt}/{total_fmt} {unit} [{elapsed}, ETA {remaining}{postfix}]"


def draw_in_terminal(stream: TextIO | None = sys.stderr) -> None:
    """Called by the CLI: bars and stage messages go to `stream`; None turns them off."""
    global _terminal
    _terminal = stream


def drawing() -> bool:
    """Whether bars are drawn in a terminal (a training process launched from here draws its own there)."""
    return _terminal is not None


class Announcer:
    """A log function for stage messages ("converting the base model", "scoring the held-out set") that
    also echoes them above the bars: with bars on, the CLI hides the INFO log, not these messages."""

    def __init__(self, log: Log):
        self.quiet = log

    def __call__(self, message: str) -> None:
        self.quiet(message)
        if _terminal is not None:
            tqdm.write(message, file=_terminal)


class Progress:
    """`update(done, total)` as work advances; the total comes with the updates, as the work learns it."""

    def __init__(self, log: Log, what: str, unit: str, every_seconds: float = 5.0):
        # progress lines belong in the run log only; on screen the bar replaces them
        self.log = log.quiet if isinstance(log, Announcer) else log
        self.what, self.unit, self.total, self.every = what, unit, 0, every_seconds
        self.started = time.perf_counter()
        self.last_logged = self.started
        self.first: tuple[int, float] | None = None  # a resumed job starts part-way: rate counts from here
        self.bar = None
        self.finished = False

    def update(self, done: int, total: int | None = None, **details) -> None:
        now = time.perf_counter()
        self.total = total or self.total
        self.first = self.first or (done, now)
        if self.bar is None and _terminal is not None and self.total and not self.finished:
            self.bar = tqdm(total=self.total, initial=done, desc=self.what, unit=self.unit, file=_terminal,
                            bar_format=BAR_FORMAT, mininterval=0.5, leave=True)
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(f"{k} {_short(v)}" for k, v in details.items()), refresh=False)
            self.bar.update(done - self.bar.n)
        finished = bool(self.total) and done >= self.total
        if finished or now - self.last_logged >= self.every:
            self.last_logged = now
            elapsed = now - self.started
            first_done, first_time = self.first
            if done > first_done:
                eta = (now - first_time) / (done - first_done) * (self.total - done)
            else:
                eta = elapsed / done * (self.total - done) if done else 0.0
            extra = "".join(f", {k} {_short(v)}" for k, v in details.items())
            self.log(f"{self.what}: {done}/{self.total} {self.unit}{extra}, {elapsed:.0f} s elapsed, ETA {eta:.0f} s")
        if finished:
            self.finished = True  # later reports of the last step (an eval after the final train step) only log
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
