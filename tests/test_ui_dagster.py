"""Journeys through the real Dagster UI (`dagster dev` from the README) in headless Chromium: materialize the
knowledge assets from the asset graph, and watch the running sensor re-index a file dropped into the materials."""
import os
import re
import shutil
import time
from types import SimpleNamespace

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from conftest import PROJECT, SAMPLES
from ui_servers import BIN, free_port, serve

LOCATION = "persona_pipeline.defs.definitions"
KNOWLEDGE_ASSETS = ["knowledge_documents", "knowledge_chunks", "chunk_embeddings", "knowledge_index"]
RUN_TIMEOUT_MS = 240_000
# how long the sensor's page is watched for a new run before it is reloaded
RELOAD_AFTER_MS = 60_000
# the href of the first run link on the page that is not among those known before (the argument), or null
NEW_RUN_LINK = """before => [...document.querySelectorAll("a[href^='/runs/']")]
    .map(a => a.getAttribute('href'))
    .find(href => /^\\/runs\\/[0-9a-f-]{36}$/.test(href) && !before.includes(href)) || null"""


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagster-ui")
    materials = root / "materials"
    shutil.copytree(SAMPLES, materials, ignore=shutil.ignore_patterns("worldview"))
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PERSONA_MATERIALS_DIR": str(materials),
           "PERSONA_DATA_DIR": str(root / "data"), "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with serve(command, cwd=PROJECT, env=env, ready_url=f"{url}/server_info", log=root / "dagster.log"):
        yield SimpleNamespace(url=url, materials=materials, data=root / "data", home=home)


def metadata_value(page, key: str):
    """The value cell of one metadata row on an asset page."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))
    return row.get_by_role("cell").last


def files_table(page):
    """The per-file status table (Markdown inside the `files` metadata row). Dagster folds a long one
    behind [Show Markdown], which opens it in a dialog."""
    cell = metadata_value(page, "files")
    expect(cell).to_be_visible()
    folded = cell.get_by_text("[Show Markdown]")
    if folded.count():
        folded.click()
        return page.get_by_role("dialog")
    return cell


def file_row(table, path: str):
    return table.get_by_role("row").filter(has_text=path).last


def test_knowledge_assets_materialize_from_the_asset_graph(dagster_ui, page):
    page.goto(f"{dagster_ui.url}/asset-groups")
    for group in ("knowledge", "sft", "training", "evaluation"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()

    page.goto(f"{dagster_ui.url}/locations/{LOCATION}/asset-groups/knowledge")
    for asset in KNOWLEDGE_ASSETS:
        expect(page.get_by_text(asset, exact=True).first).to_be_visible()
    page.get_by_role("button", name="Materialize all").click()
    launched = page.get_by_role("link", name="View", exact=True)
    run_path = launched.get_attribute("href")
    assert re.fullmatch(r"/runs/[0-9a-f-]{36}", run_path), run_path
    launched.click()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    # the embedding progress with its ETA is in the event log of the run that embedded the chunks: this one,
    # or the sensor's first run when its tick came first (the two never write at once, so that one is done
    # by now). The log view only renders the rows in view, so filter it to that line as a person would
    page.goto(f"{dagster_ui.url}/runs/{_run_that_embedded(dagster_ui.home)}")
    page.get_by_placeholder("Filter…").fill("embedding new chunks")
    expect(page.get_by_text(re.compile(r"embedding new chunks: \d+/\d+ chunks.*ETA")).first).to_be_visible()

    page.goto(f"{dagster_ui.url}/assets/knowledge_index")
    expect(page.get_by_text("+ BM25 + chunk store, written as a new immutable version")).to_be_visible()
    for definition in ("persona", "faiss", "materials_sensor", "reindex_knowledge"):  # owner, kind, automation
        expect(page.get_by_text(definition, exact=True).first).to_be_visible()
    vectors = metadata_value(page, "vectors")
    expect(vectors).to_have_text(re.compile(r"^\d+$"))
    assert int(vectors.inner_text()) > 20
    expect(metadata_value(page, "files_skipped")).to_have_text("0")
    table = files_table(page)
    for path in sorted(p.relative_to(dagster_ui.materials).as_posix() for p in dagster_ui.materials.rglob("*.*")):
        expect(file_row(table, path)).to_contain_text("indexed")

    page.goto(f"{dagster_ui.url}/assets/knowledge_chunks")
    metadata_value(page, "token_lengths").get_by_text("[Show Markdown]").click()
    histogram = page.get_by_role("dialog").locator("img[src^='data:image/png']")
    expect(histogram).to_be_visible()
    assert histogram.evaluate("img => img.naturalWidth") > 100


def test_a_dropped_file_is_reindexed_by_the_running_sensor(dagster_ui, page):
    sensor_url = f"{dagster_ui.url}/locations/{LOCATION}/sensors/materials_sensor"
    page.goto(sensor_url)
    expect(page.get_by_role("row").filter(has_text="Running").get_by_role("checkbox")).to_be_checked()
    page.goto(f"{dagster_ui.url}/locations/{LOCATION}/schedules/nightly_reindex")
    expect(page.get_by_role("row").filter(has_text="Running").get_by_role("checkbox")).to_be_checked()
    page.goto(sensor_url)
    page.get_by_role("button", name="Runs", exact=True).click()
    # the sensor's first tick, when `dagster dev` started, indexed what was already there
    expect(page.locator("a[href^='/runs/']").first).to_be_visible(timeout=90_000)
    runs_before = set(_run_links(page))

    (dagster_ui.materials / "articles" / "hill_repeats_in_snow.md").write_text(
        "# Hill repeats in the snow\n\nIn January we run hill repeats up the 200 m slope behind the zebra-striped "
        "barn, eight times, walking back down as recovery.\n", encoding="utf-8")

    new_run = _wait_for_new_run(page, sensor_url, runs_before)
    page.goto(f"{dagster_ui.url}{new_run}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_text("Launched by materials_sensor")).to_be_visible()
    page.get_by_role("button", name="View tags and config").click()
    expect(page.get_by_role("dialog").get_by_text("persona/added: 1")).to_be_visible()
    page.get_by_role("button", name="OK").click()

    page.goto(f"{dagster_ui.url}/assets/knowledge_index")
    expect(file_row(files_table(page), "articles/hill_repeats_in_snow.md")).to_contain_text("indexed")

    from persona_pipeline.rag.retrieval import open_retriever
    from persona_pipeline.rag_config import load_rag_config

    config = load_rag_config(PROJECT / "RAG_config.yaml")
    hits = open_retriever(dagster_ui.data / "index", config).search("hill repeats behind the zebra-striped barn", k=3)
    assert hits[0].chunk.source == "articles/hill_repeats_in_snow.md"


def _run_that_embedded(home) -> str:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey("chunk_embeddings"), limit=10).records
    embedded = [r.run_id for r in records if r.asset_materialization.metadata["newly_embedded"].value > 0]
    assert len(embedded) == 1, f"expected one run to embed the samples, found {embedded}"
    return embedded[0]


def _run_links(page) -> list[str]:
    return [link.get_attribute("href") for link in page.locator("a[href^='/runs/']").all()]


def _wait_for_new_run(page, sensor_url: str, before: set[str], timeout: float = 150) -> str:
    """The sensor ticks every 30 s; its Runs tab, which the UI refreshes by itself, lists what each tick
    launched. Waits for a run link that was not there before; a person who sees nothing new for a while
    reloads the page, and so does this."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(sensor_url)
        page.get_by_role("button", name="Runs", exact=True).click()
        # the tab lists at least the first tick's run once it has loaded
        expect(page.locator("a[href^='/runs/']").first).to_be_visible()
        left = deadline - time.monotonic()
        try:
            return page.wait_for_function(NEW_RUN_LINK, arg=sorted(before), timeout=max(min(RELOAD_AFTER_MS, left * 1000), 1)).json_value()
        except PlaywrightTimeout:
            if time.monotonic() >= deadline:
                raise AssertionError(f"the sensor launched no run within {timeout:.0f} s of the new file") from None
