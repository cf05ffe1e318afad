"""Base models of the families users bring (Qwen2, Gemma 3, Llama 3), tiny and random but with their real
layouts and chat templates, through the whole path: the dataset in their template with the loss on the
assistant's tokens alone, LoRA on the projections the architecture has, training, MLflow run and registry,
champion, and both adapters stacked in the consilium."""
import json
import shutil
from pathlib import Path

import mlflow
import pytest

from model_families import FAMILIES
from persona_pipeline.training.base_model import BaseModel, load_tokenizer

from conftest import SAMPLES

PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
SPORT_QUESTION_RU = "Сколько дней длится подводка к марафону?"
CONVERSATION = [{"role": "system", "content": "You are a running coach."},
                {"role": "user", "content": "How long is the taper?"},
                {"role": "assistant", "content": "My taper lasts 17 days."},
                {"role": "user", "content": "А объём?"},
                {"role": "assistant", "content": "  Объём ↓ 25%.\n"}]


def _worldview_lines() -> list[str]:
    return [line for path in sorted((SAMPLES / "worldview").rglob("*")) if path.is_file()
            for line in path.read_text(encoding="utf-8").splitlines()]


def _assistant_runs(tokenizer, encoded) -> list[str]:
    """The masked tokens of each stretch of ones, decoded with special tokens kept."""
    runs, current = [], []
    for token, marked in zip(encoded["input_ids"], encoded["assistant_masks"]):
        if marked:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    return [tokenizer.decode(run) for run in runs + ([current] if current else [])]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, BaseModel]:
    lines = _worldview_lines()
    folders = {name: family.build(tmp_path_factory.mktemp(name), lines) for name, family in FAMILIES.items()}
    return {name: BaseModel(str(folder), str(folder), name, "test") for name, folder in folders.items()}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_loss_falls_on_each_assistant_reply_and_its_end_of_turn_alone(built, name):
    from persona_pipeline.training.assistant_mask import encode_with_assistant_mask

    tokenizer = load_tokenizer(built[name])
    encoded = encode_with_assistant_mask(tokenizer, CONVERSATION)
    end = FAMILIES[name].end_of_turn
    # Llama 3 and Gemma 3 trim a reply's spaces; Qwen2.5 writes it as given, and the mask keeps what it writes
    replies = [m["content"] if name == "qwen2" else m["content"].strip() for m in CONVERSATION if m["role"] == "assistant"]
    assert _assistant_runs(tokenizer, encoded) == [reply + end for reply in replies]
    assert encoded["input_ids"] == tokenizer.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True)["input_ids"]


def test_on_a_template_with_generation_blocks_the_mask_is_transformers_own(smollm2):
    from persona_pipeline.training.assistant_mask import encode_with_assistant_mask

    tokenizer = load_tokenizer(smollm2)
    reference = tokenizer.apply_chat_template(CONVERSATION, return_dict=True, return_assistant_tokens_mask=True)
    ours = encode_with_assistant_mask(tokenizer, CONVERSATION)
    assert ours["input_ids"] == list(reference["input_ids"])
    assert ours["assistant_masks"] == list(reference["assistant_masks"]) and 1 in ours["assistant_masks"]


def test_a_template_that_rewrites_earlier_turns_is_refused_by_name(built):
    from persona_pipeline.training.assistant_mask import encode_with_assistant_mask
    from persona_pipeline.training.base_model import BaseModelError

    tokenizer = load_tokenizer(built["qwen2"])
    # renders the last turn in capitals: the turns before it change once another follows
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'].upper() if loop.last else m['content'] }}\n{% endfor %}"
    with pytest.raises(BaseModelError, match="renders a turn differently"):
        encode_with_assistant_mask(tokenizer, CONVERSATION)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_family_trains_registers_and_answers_with_both_adapters_stacked(built, name, tmp_path, monkeypatch):
    from persona_pipeline.consilium.runtime.loading import open_consilium
    from persona_pipeline.settings import Paths
    from persona_pipeline.sft.adapter_data import build_sft_dataset
    from persona_pipeline.training.adapters import ADAPTERS, CHAMPION
    from persona_pipeline.training.base_model import prepare_base_model
    from persona_pipeline.training.pipeline import train_adapter
    from persona_pipeline.training.promotion import evaluate_and_promote
    from persona_pipeline.training.settings import TrainingSettings

    shutil.copytree(SAMPLES / "worldview", tmp_path / "materials" / "worldview")
    paths = Paths.resolve(tmp_path / "materials", tmp_path / "data")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    settings = TrainingSettings(base_model=built[name].path, base_model_languages=["en", "ru"], max_steps=2, eval_steps=2,
                                batch_size=2, learning_rate=0.01, sample_generations=1, sample_max_new_tokens=4)
    base = prepare_base_model(settings.base_model)
    for key in ("core", "sport"):
        build_sft_dataset(ADAPTERS[key], paths, settings, base)
        outcome = train_adapter(ADAPTERS[key], paths, settings, uri=uri)
        assert outcome.version == "1" and outcome.steps == 2
        adapter_config = json.loads((outcome.adapter_dir / "adapter_config.json").read_text())
        assert set(adapter_config["target_modules"]) == PROJECTIONS  # found in the architecture, lm_head left alone
        assert evaluate_and_promote(ADAPTERS[key], paths, settings, outcome.version, uri=uri).promoted
        client = mlflow.MlflowClient(uri)
        assert str(client.get_model_version_by_alias(ADAPTERS[key].registered_model, CHAMPION).version) == "1"
        assert client.get_run(outcome.run_id).data.params["base_model_id"] == Path(built[name].path).name

    consilium = open_consilium(paths, settings=settings, uri=uri, rag=False)
    answer = consilium.ask(SPORT_QUESTION_RU, rag=False, max_new_tokens=6, readings=True)
    assert [a.split(":")[0] for a in answer.adapters] == ["core", "sport"]
    assert not any("base_model_languages" in note for note in answer.notes)
    # the stacked pair scores the coach's answer differently from CoreSelf alone and from the base model
    losses = {adapters: consilium.reference_loss(SPORT_QUESTION_RU, "Подводка длится 17 дней.", adapters=adapters, rag=False)
              for adapters in ("auto", "core", "none")}
    assert len({round(loss, 6) for loss in losses.values()}) == 3, losses

    english_only = open_consilium(paths, settings=settings.model_copy(update={"base_model_languages": ["en"]}), uri=uri, rag=False)
    refused = english_only.ask(SPORT_QUESTION_RU, rag=False, max_new_tokens=6)
    assert not refused.generated and any("base_model_languages" in note for note in refused.notes)
