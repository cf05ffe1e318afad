"""`persona index` and `persona search` as a person runs them."""
import json
import os

import dagster as dg
import pytest

from persona_pipeline.cli import main


@pytest.fixture
def cli_env(tmp_path, monkeypatch, materials, data_dir):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # --materials / --data win over the environment's folders, which hold nothing
    monkeypatch.setenv("PERSONA_MATERIALS_DIR", "unused")
    monkeypatch.setenv("PERSONA_DATA_DIR", "unused")
    return home


def test_index_records_in_the_dagster_instance_and_search_finds_cited_sources(cli_env, materials, data_dir, capsys):
    (materials / "articles" / "empty.md").write_bytes(b"")
    rows = "".join(f"2021-07-{day:02d} 18:35:21;5\n" for day in range(1, 4)) + "".join(f"soon;{n}\n" for n in range(4801))
    (materials / "logs" / "strong.csv").write_text("Date;Distance\n" + rows)
    assert main(["index", "--materials", str(materials), "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "logs/strong.csv: 4,801 rows skipped: 'Date' values such as 'soon' are not dates; first at line 5\n" in out
    assert f"every row: {data_dir.resolve()}/knowledge/reports/logs/strong.csv.txt" in out and out.count("'soon'") == 1
    assert "files indexed: 16 (1 with warnings)" in out and "files skipped: 1" in out and "articles/empty.md: empty file" in out
    assert "newly embedded" in out and "time:" in out

    with dg.DagsterInstance.from_config(str(cli_env)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("knowledge_index"))
        run = instance.get_run_by_id(event.run_id)
    # the UI lists it as the re-index job, started from the CLI, holding the index writer's tag
    assert run.job_name == "reindex_knowledge"
    assert run.tags["persona/source"] == "cli" and run.tags["persona/writes"] == "knowledge_index"
    assert os.environ["PERSONA_MATERIALS_DIR"] == "unused"  # the folders were arguments, not a changed environment

    assert main(["search", "Сколько недель длится зимний базовый период?", "--json", "-k", "3",
                 "--materials", str(materials), "--data", str(data_dir)]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["source"] == "articles/zimniy_bazovy_period.txt"
    assert set(hits[0]) >= {"score", "knowledge_type", "location", "text"}

    assert main(["search", "600 kick", "--type", "lecture", "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] lectures/lecture_02_race_tactics.vtt (lecture, 00:00:")
    assert "training_log" not in out


def test_search_before_indexing_says_what_to_materialize(cli_env, data_dir, capsys):
    assert main(["search", "anything", "--data", str(data_dir)]) == 2
    assert "materialize the knowledge_index asset" in capsys.readouterr().err


def test_unknown_type_is_a_clear_error(cli_env, data_dir, capsys):
    assert main(["search", "x", "--type", "poems", "--data", str(data_dir)]) == 2
    assert "unknown knowledge type 'poems'" in capsys.readouterr().err
