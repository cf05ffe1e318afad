import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = PROJECT / "raw_materials"


@pytest.fixture(scope="session")
def embedder():
    from persona_pipeline.rag.embedding import Embedder

    return Embedder()


@pytest.fixture
def materials(tmp_path) -> Path:
    target = tmp_path / "materials"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("worldview"))
    return target


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


def materialize_knowledge(materials: Path, data: Path, groups=("knowledge",), instance=None):
    from persona_pipeline.defs.definitions import build_definitions

    defs = build_definitions(str(materials), str(data))
    return dg.materialize([*defs.assets, *defs.asset_checks], selection=dg.AssetSelection.groups(*groups),
                          resources=defs.resources, instance=instance or dg.DagsterInstance.ephemeral(),
                          raise_on_error=False)


def metadata(result, node: str) -> dict:
    event = result.asset_materializations_for_node(node)[-1]
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def check_results(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
