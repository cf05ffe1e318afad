"""Markdown tables and inline images for asset metadata."""
from __future__ import annotations

import base64

import dagster as dg

from .. import charts


def markdown_table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def image(figure, alt: str) -> dg.MetadataValue:
    """A figure as Markdown with the PNG inline: the Dagster UI shows it on the asset page, no file server needed."""
    encoded = base64.b64encode(charts.png(figure)).decode()
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{encoded})")
