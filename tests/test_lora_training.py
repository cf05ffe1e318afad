"""LoRA training on a tiny random Llama: checkpoints, resume after an interruption, atomic adapter output,
and each precision path."""
import json
import math
from pathlib import Path

import pytest
from peft import PeftModel
from transformers import TrainerCallback

from persona_pipeline.sft.dataset import build_dataset
from persona_pipeline.sft.validation import load_and_validate
from persona_pipeline.training.base_model import load_model, load_tokenizer
from persona_pipeline.training.heldout import assistant_token_loss, generate
from persona_pipeline.training import precision as training_precision_module
from persona_pipeline.training.lora import choose_precision, train_lora
from persona_pipeline.training.settings import TrainingSettings

SAMPLES = Path(__file__).resolve().parents[1] / "raw_materials"


@pytest.fixture
def dataset(tmp_path):
    examples, _ = load_and_validate(SAMPLES / "worldview" / "core", SAMPLES)
    return build_dataset(examples, tmp_path / "sft", system_prompt="You are a coach.", eval_fraction=0.12)


class Killed(Exception):
    pass


class KillAfterFirstCheckpoint(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        raise Killed(f"killed after checkpoint at step {state.global_step}")


def test_dataset_split_is_deterministic_and_adds_the_system_prompt(tmp_path, dataset):
    examples, _ = load_and_validate(SAMPLES / "worldview" / "core", SAMPLES)
    again = build_dataset(list(reversed(examples)), tmp_path / "sft2", system_prompt="You are a coach.", eval_fraction=0.12)
    assert again.digest == dataset.digest
    assert again.data["eval"]["id"] == dataset.data["eval"]["id"] and len(dataset.data["eval"]) >= 1
    assert len(dataset.data["train"]) + len(dataset.data["eval"]) == 60
    assert all(m[0] == {"role": "system", "content": "You are a coach."} for m in dataset.data["train"]["messages"])


def test_interrupted_training_resumes_from_its_last_checkpoint(tmp_path, tiny_base, dataset):
    settings = TrainingSettings(max_steps=4, eval_steps=2, batch_size=2, logging_steps=1)
    adapter = tmp_path / "adapter"
    with pytest.raises(Killed):
        train_lora(base=tiny_base, dataset=dataset, settings=settings, work_dir=tmp_path / "ckpt", adapter_out=adapter,
                   extra_callbacks=[KillAfterFirstCheckpoint()])
    assert not adapter.exists(), "no half-written adapter"
    assert not list(tmp_path.glob(".staging-*"))
    rows = []
    result = train_lora(base=tiny_base, dataset=dataset, settings=settings, work_dir=tmp_path / "ckpt", adapter_out=adapter,
                        report=rows.append)
    assert result.resumed_from is not None and result.resumed_from.endswith("checkpoint-2")
    assert result.steps == 4 and result.eval_loss is not None
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    assert {r["step"] for r in rows if "loss" in r} == {3, 4} and all(r["max_steps"] == 4 for r in rows)


def test_a_trained_adapter_changes_generations_and_lowers_assistant_loss(tmp_path, tiny_base, dataset):
    settings = TrainingSettings(max_steps=20, eval_steps=20, batch_size=4, learning_rate=0.2, lora_r=8, lora_alpha=16)
    result = train_lora(base=tiny_base, dataset=dataset, settings=settings, work_dir=tmp_path / "ckpt",
                        adapter_out=tmp_path / "adapter")
    tokenizer = load_tokenizer(tiny_base)
    model = PeftModel.from_pretrained(load_model(tiny_base), str(result.adapter_dir))
    conversations = dataset.data["train"]["messages"][:8]
    tuned = assistant_token_loss(model, tokenizer, conversations, 512)
    with model.disable_adapter():
        base = assistant_token_loss(model, tokenizer, conversations, 512)
        base_text = generate(model, tokenizer, conversations[0], 12)
    assert tuned < base - 1.0, (tuned, base)
    assert generate(model, tokenizer, conversations[0], 12) != base_text


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_each_precision_path_trains(tmp_path, tiny_base, dataset, precision, monkeypatch):
    monkeypatch.setenv(training_precision_module.ENV, precision)
    result = train_lora(base=tiny_base, dataset=dataset, settings=TrainingSettings(max_steps=2, eval_steps=2, batch_size=2),
                        work_dir=tmp_path / "ckpt", adapter_out=tmp_path / "adapter")
    assert result.precision == precision and result.steps == 2 and math.isfinite(result.eval_loss)


def test_auto_precision_measures_once_where_bf16_is_native_and_never_where_it_is_not(tmp_path, tiny_base, monkeypatch):
    monkeypatch.setenv("PERSONA_MODEL_CACHE", str(tmp_path))
    monkeypatch.delenv(training_precision_module.ENV, raising=False)
    settings = TrainingSettings()
    monkeypatch.setattr(training_precision_module, "native_bf16", lambda: False)
    assert choose_precision(tiny_base, settings) == "fp32"
    assert not (tmp_path / training_precision_module.CHOICES_FILE).exists()
    monkeypatch.setattr(training_precision_module, "native_bf16", lambda: True)
    chosen = choose_precision(tiny_base, settings)
    [record] = json.loads((tmp_path / training_precision_module.CHOICES_FILE).read_text()).values()
    assert record["precision"] == chosen in ("fp32", "bf16") and record["bf16_speedup"] > 0
    monkeypatch.setattr(training_precision_module, "calibrate", lambda model: pytest.fail("measured twice"))
    assert choose_precision(tiny_base, settings) == chosen


def test_adapters_scored_on_one_base_each_score_as_they_do_alone(tmp_path, tiny_base):
    """The champion comparison loads candidate and champion onto one base model: each must be scored with
    itself active, and the base alone with both switched off."""
    import torch
    from peft import get_peft_model

    from persona_pipeline.sft.adapter_data import load_heldout
    from persona_pipeline.training.adapters import ADAPTERS
    from persona_pipeline.training.lora import lora_config
    from persona_pipeline.training.promotion import BASE, score_on_heldout

    settings = TrainingSettings(max_seq_length=256)
    folders = {}
    for seed, name in enumerate(("candidate", "champion")):
        torch.manual_seed(seed)
        model = load_model(tiny_base)
        config = lora_config(settings, model)
        config.init_lora_weights = False  # random, so the two adapters and the base model all differ
        get_peft_model(model, config).save_pretrained(str(tmp_path / name))
        folders[name] = tmp_path / name
    heldout = load_heldout(ADAPTERS["core"], settings)[:4]
    together = score_on_heldout(tiny_base, folders, heldout, settings, with_base=True).losses
    alone = {name: score_on_heldout(tiny_base, {name: folder}, heldout, settings).losses[name] for name, folder in folders.items()}
    tokenizer = load_tokenizer(tiny_base)
    assert together[BASE] == pytest.approx(assistant_token_loss(load_model(tiny_base), tokenizer, heldout, 256))
    assert together["candidate"] == pytest.approx(alone["candidate"]) and together["champion"] == pytest.approx(alone["champion"])
    assert len({round(v, 4) for v in together.values()}) == 3, together


def test_every_step_is_divided_by_an_average_steps_target_tokens(tmp_path, tiny_base, dataset):
    """Batches hold examples of similar length: divided by its own count, a batch of short answers would give
    each of its tokens more weight than a batch of long ones."""
    import torch

    from persona_pipeline.training.lora import PersonaTrainer, lora_config, tokenized, training_config

    settings = TrainingSettings(max_steps=1, batch_size=2, lora_dropout=0.0)
    model, tokenizer = load_model(tiny_base), load_tokenizer(tiny_base)
    trainer = PersonaTrainer(model=model, processing_class=tokenizer, peft_config=lora_config(settings, model),
                             train_dataset=tokenized(dataset.data["train"], tokenizer),
                             args=training_config(settings, tmp_path, precision="fp32", eval_strategy="no",
                                                  save_strategy="no", load_best_model_at_end=False))
    rows = trainer.train_dataset["labels"]
    average_step = 2 * sum(sum(label != -100 for label in row[1:]) for row in rows) / len(rows)
    lengths = [sum(label != -100 for label in row[1:]) for row in rows]
    short = sorted(range(len(rows)), key=lengths.__getitem__)[:2]  # the two shortest answers: far below average
    batch = trainer.data_collator([trainer.train_dataset[i] for i in short])
    own = int((batch["labels"][:, 1:] != -100).sum())
    assert own < 0.8 * average_step
    with torch.no_grad():
        trainer.model.eval()  # outside training the loss is the batch's own mean, as an evaluation reports it
        mean = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=own)
        trainer.model.train()
        step = trainer.compute_loss(trainer.model, dict(batch), num_items_in_batch=own)
    assert math.isclose(float(step), float(mean) * own / average_step, rel_tol=1e-4)
