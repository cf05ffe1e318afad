"""MLflow on a tracking server with a SQL backend: `mlflow server` on PostgreSQL, artifacts proxied by
the server into a folder that stands in for object storage. A CoreSelf adapter (two steps on the tiny
base: the real SmolLM2 trains in the tracking tests, this one is about the server) is trained, registered
and promoted through the server, its asset pages link to the server, and `persona ask` loads the champion
with nothing but MLFLOW_TRACKING_URI."""
import json
import os
import subprocess

import dagster as dg
import pytest

import yaml

from conftest import SAMPLES, train_core, without_persona_settings
from ui_servers import BIN, free_port, serve

DATABASE = "mlflow"
MODEL = "persona-core-self"
ASK_SECONDS = 300


@pytest.fixture(scope="module")
def tracking_server(postgres, tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    postgres.create_database(DATABASE)
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(BIN / "mlflow"), "server", "--backend-store-uri", postgres.url(DATABASE),
               "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
               "--port", url.rsplit(":", 1)[1], "--workers", "1"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with serve(command, cwd=root, env=env, ready_url=f"{url}/health", log=root / "mlflow-server.log"):
        yield url, root / "artifacts"


def test_train_register_promote_and_ask_through_the_tracking_server(tracking_server, postgres, tiny_base, tmp_path,
                                                                   monkeypatch):
    url, artifacts = tracking_server
    monkeypatch.chdir(tmp_path)  # a client that wrote artifacts locally would leave ./mlruns here
    data = tmp_path / "data"
    result = train_core(SAMPLES, data, dg.DagsterInstance.ephemeral(), url, base_model=tiny_base.path)
    assert result.success
    trained, trained_page = result.trained, result.metadata("lora_core_self")
    assert trained_page["mlflow_tracking_uri"] == url
    assert trained.mlflow_run.startswith(f"{url}/#/experiments/") and trained.mlflow_run.endswith(trained.mlflow_run_id)
    assert trained_page["mlflow_model_version"] == f"{url}/#/models/{MODEL}/versions/1"
    assert result.verdict.became_champion is True

    # the registry lives in Postgres, the adapter files in the server's artifact store
    with postgres.cursor(DATABASE) as cursor:
        cursor.execute("SELECT name, version, run_id, source FROM model_versions")
        (name, version, run_id, source), = cursor.fetchall()
        cursor.execute("SELECT alias, version FROM registered_model_aliases WHERE name = %s", (MODEL,))
        assert cursor.fetchall() == [("champion", 1)]
        cursor.execute("SELECT key FROM metrics WHERE run_uuid = %s AND key = 'heldout_loss'", (run_id,))
        assert cursor.fetchall() == [("heldout_loss",)]
    assert (name, version, run_id) == (MODEL, 1, trained.mlflow_run_id)
    assert source.startswith("mlflow-artifacts:/"), source
    assert list(artifacts.rglob(f"{run_id}/artifacts/adapter/adapter_model.safetensors"))
    assert not (tmp_path / "mlruns").exists()

    # a person's shell: the tracking server's address and the project's training file naming the base model
    training = tmp_path / "training.yaml"
    training.write_text(yaml.safe_dump({"base_model": tiny_base.path}), encoding="utf-8")
    env = {**without_persona_settings(), "MLFLOW_TRACKING_URI": url, "PERSONA_TRAINING_CONFIG": str(training)}
    done = subprocess.run([str(BIN / "persona"), "ask", "How do you handle criticism?", "--adapters", "core", "--no-rag",
                           "--json", "--materials", str(SAMPLES), "--data", str(tmp_path / "ask-data")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=ASK_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert answer["adapters"] == [f"core: {MODEL} v1"] and answer["answer"]
