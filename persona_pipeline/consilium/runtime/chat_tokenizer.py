"""The part of a transformers tokenizer that `persona ask` uses, on the `tokenizers` library and jinja2.

`AutoTokenizer.from_pretrained` costs about 2 s of a cold start, nearly all of it importing transformers;
the tokenizer itself is the model folder's `tokenizer.json`, which the `tokenizers` library reads directly.
The chat template is rendered the way transformers renders it (a sandboxed jinja2 environment with
trimmed blocks; a `{% generation %}` block renders its body). The tests hold token ids and rendered prompts
to transformers' own.
"""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from ...training.base_model import required_template

SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


class ChatTokenizer:
    def __init__(self, tokenizer, template: str, special: dict[str, str]):
        self.backend, self.template_source, self.special = tokenizer, template, special
        self.eos_token, self.pad_token = special.get("eos_token"), special.get("pad_token") or special.get("eos_token")
        self.eos_token_id = tokenizer.token_to_id(self.eos_token) if self.eos_token else None
        self.pad_token_id = tokenizer.token_to_id(self.pad_token) if self.pad_token else None

    @classmethod
    def load(cls, folder: Path, model_id: str) -> ChatTokenizer | None:
        """None when the folder has no `tokenizer.json`: then transformers' tokenizer is used."""
        if not (folder / "tokenizer.json").exists():
            return None
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config_file = folder / "tokenizer_config.json"
        config = json.loads(config_file.read_text()) if config_file.exists() else {}
        template = config.get("chat_template")
        if template is None and (folder / "chat_template.jinja").exists():
            template = (folder / "chat_template.jinja").read_text()
        template = required_template(template, model_id)
        special = {key: _content(config[key]) for key in SPECIAL_KEYS if config.get(key)}
        return cls(tokenizer, template, special)

    @cached_property
    def all_special_tokens(self) -> list[str]:
        return sorted(set(self.special.values()))

    @cached_property
    def added_tokens_decoder(self) -> dict:
        return self.backend.get_added_tokens_decoder()

    def __call__(self, text: str, add_special_tokens: bool = True, return_tensors: str | None = None,
                 return_offsets_mapping: bool = False) -> dict:
        encoding = self.backend.encode(text, add_special_tokens=add_special_tokens)
        ids = encoding.ids
        if return_tensors == "pt":
            import torch

            return {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        out = {"input_ids": ids, "attention_mask": [1] * len(ids)}
        return {**out, "offset_mapping": encoding.offsets} if return_offsets_mapping else out

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool = False, tokenize: bool = True,
                            return_dict: bool = False):
        text = self._template.render(messages=messages, add_generation_prompt=add_generation_prompt, **self.special)
        if not tokenize:
            return text
        ids = self.backend.encode(text, add_special_tokens=False).ids
        return {"input_ids": ids, "attention_mask": [1] * len(ids)} if return_dict else ids

    @cached_property
    def _template(self):
        import jinja2
        from jinja2.ext import Extension, loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        class Generation(Extension):
            tags = {"generation"}

            def parse(self, parser):
                line = next(parser.stream).lineno
                body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
                return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(line)

            def _body(self, caller):
                return caller()

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                    extensions=[Generation, loopcontrols])
        environment.filters["tojson"] = lambda value, **kwargs: json.dumps(value, ensure_ascii=False, **kwargs)
        environment.globals["raise_exception"] = raise_exception
        return environment.from_string(self.template_source)


def load_chat_tokenizer(base):
    """The light tokenizer for a local model folder, transformers' for anything else."""
    folder = Path(base.path)
    tokenizer = ChatTokenizer.load(folder, base.model_id) if folder.is_dir() else None
    if tokenizer is None:
        from ...training.base_model import load_tokenizer

        return load_tokenizer(base)
    return tokenizer


def _content(value) -> str:
    return value["content"] if isinstance(value, dict) else value

