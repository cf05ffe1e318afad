"""Files dropped outside the typed folders are typed by extension; a log's unusable rows are said in
one line and listed in full in the file's report, which the index manifest points to."""
import shutil

from conftest import SAMPLES
from persona_pipeline.ingest.loading import load_materials
from persona_pipeline.ingest.reports import reported_files
from persona_pipeline.rag import build
from persona_pipeline.rag_config import CatchAllConfig, load_rag_config
from persona_pipeline.settings import PROJECT_DIR, Paths

CONFIG = load_rag_config(PROJECT_DIR / "RAG_config.yaml")


def stray_folder(tmp_path):
    materials = tmp_path / "materials"
    phone = materials / "from_phone" / "2026"
    phone.mkdir(parents=True)
    for name in ("taper_before_marathon.pdf", "oshibki_molodyh_trenerov.docx", "recovery_and_sleep.html"):
        shutil.copy(SAMPLES / "articles" / name, phone / name)
    (phone / "camera.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (materials / "logs").mkdir()
    (materials / "logs" / "notes.md").write_text("# Notes\n\n2026-03-02 easy 10 km.\n", encoding="utf-8")
    return materials


def kinds(result):
    return {d.source.path: (d.source.kind, d.source.parser) for d in result.documents}


def test_files_in_unlisted_folders_are_typed_by_extension_and_folder_rules_win(tmp_path):
    result = load_materials(stray_folder(tmp_path), CONFIG)
    assert kinds(result) == {
        "from_phone/2026/taper_before_marathon.pdf": ("article", "pdf"),
        "from_phone/2026/oshibki_molodyh_trenerov.docx": ("article", "docx"),
        "from_phone/2026/recovery_and_sleep.html": ("article", "html"),
        "logs/notes.md": ("training_log", "diary"),
    }
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("from_phone/2026/camera.heic", "not covered by any knowledge type in the config")]


def test_catch_all_off_reports_unlisted_folders(tmp_path):
    result = load_materials(stray_folder(tmp_path), CONFIG.model_copy(update={"catch_all": CatchAllConfig(enabled=False)}))
    assert list(kinds(result)) == ["logs/notes.md"]
    assert len(result.skipped) == 4


def test_row_problems_go_to_a_report_the_manifest_points_to(tmp_path):
    materials = tmp_path / "materials"
    (materials / "logs").mkdir(parents=True)
    bad_rows = "".join(f"not yet {n},5\n" for n in range(30))
    (materials / "logs" / "partly.csv").write_text("Date,Distance (km)\n2026-03-02,10\n" + bad_rows)
    (materials / "logs" / "broken.csv").write_text("Date,Distance (km)\n" + "".join(f"{n}/xx/2021 ,5\n" for n in range(4801)))
    paths = Paths.resolve(materials, tmp_path / "data")
    summary = build.build_documents(paths, CONFIG)
    assert summary.warnings["logs/partly.csv"] == [
        "30 rows skipped: 'Date' values such as 'not yet 0', 'not yet 1' are not dates; first at line 3"]
    report = (paths.knowledge_dir / "reports/logs/partly.csv.txt").read_text().splitlines()
    assert report[0] == "logs/partly.csv: 30 problem(s)" and len(report) == 31
    assert report[-1] == "line 32, field 'Date': 'not yet 29' is not a date; row skipped"
    [skipped] = summary.skipped
    assert skipped.reason.startswith("no date column found: 'Date' values such as") and len(skipped.reason) < 120

    documents, skipped_again = build.read_documents(paths)
    status = build.file_status(documents, skipped_again, [], reported_files(paths.knowledge_dir))
    assert status["logs/partly.csv"]["report"] == "knowledge/reports/logs/partly.csv.txt"
    assert "report" not in status["logs/broken.csv"]   # one reason covers the whole file

    (materials / "logs" / "partly.csv").write_text("Date,Distance (km)\n2026-03-02,10\n")
    build.build_documents(paths, CONFIG)
    assert reported_files(paths.knowledge_dir) == set()   # fixed files leave no stale report
