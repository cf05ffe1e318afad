"""Nothing in the package unpickles data or runs code shipped with a model, and every documented server
command listens on loopback only."""
import re

import pytest

from conftest import PROJECT

PACKAGE = PROJECT / "persona_pipeline"
# each of these can run arbitrary code from a file: a tampered checkpoint, index or model folder
RISKY_CALLS = {
    "pickle": re.compile(r"\b(c?pickle|dill|cloudpickle|joblib)\.loads?\(|\bread_pickle\(|import (c?pickle|dill|joblib)\b"),
    "np.load with pickles": re.compile(r"allow_pickle\s*=\s*True"),
    "torch.load without weights_only": re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)"),
    "a model's own code": re.compile(r"trust_remote_code\s*=\s*True"),
}
SERVER_COMMAND = re.compile(r"\b(dagster dev|dagster-webserver|mlflow (ui|server))\b")
LOOPBACK = re.compile(r"(-h|--host)[ =]127\.0\.0\.1\b")


def test_the_package_loads_no_pickles_and_no_remote_code():
    found = [f"{path.relative_to(PROJECT)}:{number}: {what}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             for what, pattern in RISKY_CALLS.items() if pattern.search(line)]
    assert found == []


@pytest.mark.parametrize("line, risky", [
    ("state = torch.load(path)", True),
    ("state = torch.load(path, weights_only=True)", False),
    ("AutoModel.from_pretrained(name, trust_remote_code = True)", True),  # spaced: the scan allows them
    ("np.load(path, allow_pickle=True)", True),
    ("import pickle", True),
])
def test_the_scan_recognises_each_risky_call(line, risky):
    assert any(p.search(line) for p in RISKY_CALLS.values()) is risky


def command_lines(path) -> list[str]:
    """What a person runs from a document: the lines of a Markdown file's code blocks, a script's lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".md":
        fences = [i for i, line in enumerate(lines) if line.lstrip().startswith("```")]
        lines = [line for start, end in zip(fences[::2], fences[1::2]) for line in lines[start + 1:end]]
    return [line for line in lines if not line.lstrip().startswith("#")]


def test_every_documented_server_command_binds_loopback():
    documents = [PROJECT / "README.md", *sorted((PROJECT / "docs").rglob("*.md")), *sorted((PROJECT / "scripts").glob("*.sh"))]
    commands = [(doc.name, line) for doc in documents for line in command_lines(doc) if SERVER_COMMAND.search(line)]
    assert len(commands) >= 2  # the README's `dagster dev` and `mlflow ui`
    assert [c for c in commands if not LOOPBACK.search(c[1])] == []
