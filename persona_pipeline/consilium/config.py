"""The `consilium` section of the knowledge config: prompt template, tactics, retrieval and generation sizes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..settings import PROJECT_DIR


@dataclass(frozen=True)
class ConsiliumConfig:
    prompt_template: Path
    tactics: str
    top_k: int = 3
    max_context_tokens: int = 1400
    max_new_tokens: int = 120
    adapter_source: str = "champion"

    def template(self) -> str:
        return self.prompt_template.read_text(encoding="utf-8")


def load_consilium_config(config_path: Path) -> ConsiliumConfig:
    raw = (yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}).get("consilium") or {}
    template = Path(raw.get("prompt_template", "prompts/consilium.md"))
    return ConsiliumConfig(
        prompt_template=template if template.is_absolute() else PROJECT_DIR / template,
        tactics=str(raw.get("tactics", "")).strip(),
        top_k=int(raw.get("top_k", 3)),
        max_context_tokens=int(raw.get("max_context_tokens", 1400)),
        max_new_tokens=int(raw.get("max_new_tokens", 120)),
        adapter_source=str(raw.get("adapter_source", "champion")),
    )
