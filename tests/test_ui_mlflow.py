"""The MLflow UI (`mlflow server` on the pipeline's tracking store) in headless Chromium: two CoreSelf runs
compared side by side, and the registered adapter with its champion alias."""
import os
import re

import pytest
from mlflow import MlflowClient
from playwright.sync_api import expect

from ui_servers import BIN, free_port, serve


@pytest.fixture(scope="module")
def mlflow_ui(core_runs):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "mlflow"), "server", "--backend-store-uri", core_runs.uri, "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with serve(command, cwd=core_runs.root, env=env, ready_url=f"{url}/health", log=core_runs.root / "mlflow-server.log"):
        yield url


def test_two_adapter_runs_compare_side_by_side_and_the_champion_is_marked(core_runs, mlflow_ui, page):
    client = MlflowClient(core_runs.uri)
    runs = [client.get_run(result.trained.mlflow_run_id) for result in (core_runs.first, core_runs.second)]
    experiment = runs[0].info.experiment_id

    # MLflow's default experiment page is the GenAI view; adapters are classic model-training runs
    page.goto(f"{mlflow_ui}/#/experiments/{experiment}/runs?workflowType=machine_learning")
    for run in runs:
        link = page.locator(f"a[href$='/runs/{run.info.run_id}']")
        expect(link).to_have_text(run.info.run_name)
        page.get_by_role("row").filter(has=link).get_by_role("checkbox", name=re.compile("toggle row selection")).check()
    page.get_by_role("button", name="Compare").click()

    expect(page.get_by_text("Comparing 2 Runs")).to_be_visible()
    assert all(run.info.run_id in page.url for run in runs)
    for run in runs:
        expect(page.get_by_role("link", name=run.info.run_id)).to_be_visible()
    learning_rate = page.get_by_role("row").filter(has=page.get_by_text("learning_rate", exact=True))
    # each run's own value, side by side: the first trains at its logged rate, the second at 0.0
    expect(learning_rate).to_contain_text(runs[0].data.params["learning_rate"])
    expect(learning_rate).to_contain_text(runs[1].data.params["learning_rate"])
    expect(page.get_by_role("row").filter(has=page.get_by_text("base_model_id", exact=True))).to_contain_text("SmolLM2")
    train_loss = page.get_by_role("link", name="train_loss", exact=True)
    expect(train_loss).to_be_visible()
    expect(page.get_by_role("link", name="heldout_loss", exact=True)).to_be_visible()

    # the loss curve of both runs, step by step. The link points at both runs once their metrics have loaded.
    # The metrics grid re-renders its rows on mouse hover, which can swallow a mouse click landing during that
    # re-render, so the link is followed from the keyboard, as a person tabbing to it would.
    ids = "".join(f"(?=.*{run.info.run_id})" for run in runs)
    expect(train_loss).to_have_attribute("href", re.compile(rf"^{ids}.*#/metric\?.*train_loss"))
    train_loss.press("Enter")
    expect(page).to_have_url(re.compile(r"#/metric\?.*train_loss"))
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    for run in runs:
        expect(page.get_by_text(run.info.run_name).first).to_be_attached()

    page.goto(f"{mlflow_ui}/#/models/persona-core-self")
    expect(page.get_by_role("link", name="Version 2", exact=True)).to_be_visible()
    version_1 = page.get_by_role("row").filter(has=page.get_by_role("link", name="Version 1", exact=True))
    expect(version_1).to_contain_text("champion")
    version_2 = page.get_by_role("row").filter(has=page.get_by_role("link", name="Version 2", exact=True))
    expect(version_2).not_to_contain_text("champion")

    # the first run's page: its sample generations table, base model next to adapter
    page.goto(f"{mlflow_ui}/#/experiments/{experiment}/runs/{runs[0].info.run_id}/artifacts")
    page.get_by_text("sample_generations.json", exact=True).click()
    for column in ("prompt", "reference", "base", "adapter"):
        expect(page.get_by_text(column, exact=True).first).to_be_visible()
