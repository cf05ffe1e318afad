"""An MLflow server that is down reads as a connection failure, never as "no adapter yet"; a registry that
simply has no adapter still reads as that."""
import socket

import pytest
from mlflow import MlflowClient

from persona_pipeline.cli import main
from persona_pipeline.consilium.runtime.adapters import resolve_adapter_dirs
from persona_pipeline.training.tracking import TrackingUnreachable, champion


@pytest.fixture
def unreachable(monkeypatch) -> str:
    """A tracking URI on a port nothing listens on, asked once instead of with MLflow's minutes of retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return f"http://127.0.0.1:{port}"


def test_an_empty_registry_has_no_champion_and_no_adapters(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    assert champion(client, "persona-core-self") is None
    client.create_registered_model("persona-core-self")
    assert champion(client, "persona-core-self") is None  # registered, but no version holds the alias
    dirs, _, notes = resolve_adapter_dirs("champion", tmp_path / "cache", uri)
    assert dirs == {} and any("no CoreSelf adapter" in note for note in notes)
    dirs, _, notes = resolve_adapter_dirs("7", tmp_path / "cache", uri)
    assert dirs == {} and any("'7'" in note for note in notes)


def test_an_unreachable_server_is_a_connection_error(tmp_path, unreachable):
    with pytest.raises(TrackingUnreachable) as caught:
        resolve_adapter_dirs("champion", tmp_path / "cache", unreachable)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to the MLflow tracking server at {unreachable} (Connection refused)")
    assert "\n" not in message
    with pytest.raises(TrackingUnreachable):
        champion(MlflowClient(unreachable), "persona-core-self")


def test_persona_ask_says_the_server_is_unreachable_in_one_line(unreachable, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", unreachable)
    assert main(["ask", "How do you taper?", "--no-rag"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: cannot connect to the MLflow tracking server at {unreachable}")
