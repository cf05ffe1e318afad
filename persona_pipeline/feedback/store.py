"""The feedback store: one SQLite file under the data folder, every write in a transaction.

Each answer the server gives is recorded with what it rested on (question, excerpts, adapter versions),
so a rating or a correction names an answer by id and cannot be attached to text the server never said.
A correction waits for review; a person accepts or rejects it (candidates.py).
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

STORE_FILE = "feedback/feedback.sqlite"
WAITING, ACCEPTED, REJECTED = "waiting", "accepted", "rejected"
RATINGS = {"up": 1, "down": -1}
# seconds a writer waits for another writer's transaction before failing
BUSY_TIMEOUT_SECONDS = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, created REAL NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    outcome TEXT NOT NULL, language TEXT NOT NULL, sport INTEGER NOT NULL,
    adapters TEXT NOT NULL, citations TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL REFERENCES answers(id), created REAL NOT NULL,
    rating INTEGER, correction TEXT, review TEXT);
"""


class UnknownAnswer(LookupError):
    pass


@dataclass
class Correction:
    id: int
    answer_id: str
    question: str
    answer: str
    correction: str
    sport: bool
    review: str
    adapters: list[str]


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            # WAL is a property of the file: set once, every later connection uses it
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def in_data(cls, data_dir: Path) -> "FeedbackStore":
        return cls(data_dir / STORE_FILE)

    @contextmanager
    def _transaction(self):
        # one connection per call: the server writes from its worker threads, Dagster and the CLI from theirs
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)) as db:
            with db:
                yield db

    def record_answer(self, answer_id: str, answer) -> None:
        """`answer`: a consilium Answer."""
        with self._transaction() as db:
            db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (answer_id, time.time(), answer.question, answer.text, answer.outcome, answer.language,
                        int(bool(answer.route and answer.route.sport)), json.dumps(answer.adapters),
                        json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False)))

    def add_feedback(self, answer_id: str, rating: str | None, correction: str | None) -> int:
        """The new feedback's id; UnknownAnswer when no answer has that id. A correction waits for review."""
        correction = correction.strip() if correction else None
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise UnknownAnswer(answer_id)
            cursor = db.execute("INSERT INTO feedback (answer_id, created, rating, correction, review) VALUES (?, ?, ?, ?, ?)",
                                (answer_id, time.time(), RATINGS.get(rating or ""), correction,
                                 WAITING if correction else None))
            return int(cursor.lastrowid)

    def corrections(self, review: str | None = None) -> list[Correction]:
        query = ("SELECT f.id, f.answer_id, a.question, a.answer, f.correction, a.sport, f.review, a.adapters "
                 "FROM feedback f JOIN answers a ON a.id = f.answer_id WHERE f.correction IS NOT NULL")
        with self._transaction() as db:
            rows = db.execute(query + (" AND f.review = ?" if review else "") + " ORDER BY f.id",
                              (review,) if review else ()).fetchall()
        return [Correction(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], json.loads(r[7])) for r in rows]

    def set_review(self, feedback_id: int, review: str) -> None:
        with self._transaction() as db:
            changed = db.execute("UPDATE feedback SET review = ? WHERE id = ? AND correction IS NOT NULL",
                                 (review, feedback_id)).rowcount
        if not changed:
            raise LookupError(f"no correction with id {feedback_id}")

    def counts(self) -> dict[str, int]:
        """Answers, ratings up and down, and corrections by review state."""
        with self._transaction() as db:
            answers = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            up, down = (db.execute("SELECT COUNT(*) FROM feedback WHERE rating = ?", (v,)).fetchone()[0] for v in (1, -1))
            reviews = dict(db.execute("SELECT review, COUNT(*) FROM feedback WHERE review IS NOT NULL GROUP BY review"))
        return {"answers": answers, "rated_up": up, "rated_down": down,
                **{f"corrections_{state}": reviews.get(state, 0) for state in (WAITING, ACCEPTED, REJECTED)}}
