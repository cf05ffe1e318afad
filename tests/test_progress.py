"""Progress as a person sees it: a bar with ETA in a terminal, log lines with ETA everywhere else."""
import io
import os
import pty
import re
import subprocess
import sys

import pytest

from persona_pipeline import progress
from persona_pipeline.progress import Announcer, Progress


@pytest.fixture
def terminal():
    screen = io.StringIO()
    progress.draw_in_terminal(screen)
    yield screen
    progress.draw_in_terminal(None)


def test_in_a_terminal_a_bar_replaces_the_progress_lines_on_screen_but_not_in_the_log(terminal):
    log = []
    announce = Announcer(log.append)
    announce("converting the base model")
    steps = Progress(announce, "training CoreSelf", "steps", every_seconds=3600)
    steps.update(2, 4, loss=2.5)
    steps.update(4, 4, loss=2.25)
    steps.update(4, 4, eval_loss=2.5)
    screen = terminal.getvalue()
    assert "converting the base model" in screen
    assert re.search(r"training CoreSelf: 100%\|.*\| 4/4 steps \[.*ETA .*loss 2\.25\]", screen), screen
    assert "steps, loss" not in screen, "the log line is not echoed under the bar"
    assert "eval_loss" not in screen, "no second bar for a report after the last step"
    assert log[0] == "converting the base model"
    assert re.fullmatch(r"training CoreSelf: 4/4 steps, loss 2\.25, \d+ s elapsed, ETA 0 s", log[-2])
    assert log[-1].startswith("training CoreSelf: 4/4 steps, eval_loss 2.5")


def test_without_a_terminal_progress_is_log_lines_with_eta():
    log = []
    embedding = Progress(log.append, "embedding new chunks", "chunks", every_seconds=0)
    embedding.update(32, 64)
    embedding.update(64)
    assert re.fullmatch(r"embedding new chunks: 32/64 chunks, \d+ s elapsed, ETA \d+ s", log[0])
    assert log[-1].startswith("embedding new chunks: 64/64 chunks")


def test_persona_index_in_a_terminal_shows_a_bar_and_a_summary_not_the_dagster_log(tmp_path, materials, data_dir):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "persona_pipeline.cli", "index", "--materials", str(materials),
                                "--data", str(data_dir)], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the command exits
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(60) == 0, screen.decode(errors="replace")
    text = screen.decode(errors="replace")
    assert re.search(r"embedding new chunks: 100%\|.*\| \d+/\d+ chunks \[.*ETA", text), text
    assert "files indexed: 15" in text and "index version:" in text
    assert "STEP_START" not in text and "Started execution of step" not in text
