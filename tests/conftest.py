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


def materialize_knowledge(materials: Path, data: Path, with_eval=False, instance=None):
    from persona_pipeline.defs.definitions import build_definitions

    defs = build_definitions(str(materials), str(data))
    selection = dg.AssetSelection.groups("knowledge")
    if with_eval:
        selection = selection | dg.AssetSelection.assets("retrieval_eval")
    return dg.materialize([*defs.assets, *defs.asset_checks], selection=selection,
                          resources=defs.resources, instance=instance or dg.DagsterInstance.ephemeral(),
                          raise_on_error=False)


def metadata(result, node: str) -> dict:
    event = result.asset_materializations_for_node(node)[-1]
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def check_results(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


@pytest.fixture(scope="session")
def smollm2():
    from persona_pipeline.training.base_model import prepare_base_model

    return prepare_base_model()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, smollm2):
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template: real training code, seconds per run."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from persona_pipeline.training.base_model import BaseModel, load_tokenizer

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = load_tokenizer(smollm2)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, initializer_range=0.5, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return BaseModel(str(folder), str(folder), "tiny-random-llama", "test")
