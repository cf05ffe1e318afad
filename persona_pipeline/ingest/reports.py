"""Per-file problem reports in the data folder: every row a file could not use, one per line, where
the one-line reason in the manifest, the CLI and the asset metadata points."""
from __future__ import annotations

from pathlib import Path

from ..atomic import staged_dir

REPORTS = "reports"


def report_name(rel: str) -> str:
    """Where a file's report lives, relative to the knowledge folder."""
    return f"{REPORTS}/{rel}.txt"


def write_reports(knowledge_dir: Path, reports: dict[str, list[str]]) -> None:
    """Replace all reports at once, so a file that is fixed leaves no stale report behind."""
    with staged_dir(knowledge_dir / REPORTS) as staging:
        for rel, lines in sorted(reports.items()):
            target = staging / f"{rel}.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"{rel}: {len(lines):,} problem(s)\n" + "".join(line + "\n" for line in lines), encoding="utf-8")


def reported_files(knowledge_dir: Path) -> set[str]:
    folder = knowledge_dir / REPORTS
    if not folder.is_dir():
        return set()
    return {p.relative_to(folder).as_posix()[:-len(".txt")] for p in folder.rglob("*.txt")}
