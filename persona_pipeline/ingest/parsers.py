"""Parser names, as used in the knowledge-types config, to parser functions."""
from __future__ import annotations

from typing import Callable

from ..rag_config import ConfigError, RagConfig
from .device_files import parse_fit, parse_gpx, parse_tcx
from .diaries import parse_diary
from .docx import parse_docx
from .document import Document
from .html import parse_html
from .pdf import parse_pdf
from .subtitles import parse_srt, parse_vtt
from .text import parse_markdown, parse_text
from .training_logs import parse_csv, parse_json_log, parse_xlsx
from .worldview import parse_worldview

Parser = Callable[[bytes, str], Document]

PARSERS: dict[str, Parser] = {
    "text": parse_text,
    "markdown": parse_markdown,
    "html": parse_html,
    "pdf": parse_pdf,
    "docx": parse_docx,
    "srt": parse_srt,
    "vtt": parse_vtt,
    "table": lambda data, path: (parse_xlsx if path.lower().endswith((".xlsx", ".xlsm")) else parse_csv)(data, path),
    "json_log": parse_json_log,
    "worldview": parse_worldview,
    "diary": parse_diary,
    "fit": parse_fit,
    "gpx": parse_gpx,
    "tcx": parse_tcx,
}


def check_parser_names(config: RagConfig) -> None:
    """Every parser the knowledge types name exists (the config cannot check it: the parsers live here)."""
    for kind in config.knowledge_types.values():
        unknown = sorted(set(kind.formats.values()) - set(PARSERS))
        if unknown:
            raise ConfigError(f"{config.source}: knowledge_types.{kind.name}.formats: unknown parser(s) {unknown}; "
                              f"known: {sorted(PARSERS)}")
