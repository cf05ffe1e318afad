"""Word documents: paragraphs under their heading styles, table rows as their own blocks."""
from __future__ import annotations

import io
import zipfile

import docx

from .document import Block, Document, MaterialError


def parse_docx(data: bytes, path: str) -> Document:
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise MaterialError(f"unreadable DOCX: {exc}") from exc
    title = document.core_properties.title or path
    heading, blocks = None, []
    for paragraph in document.paragraphs:
        body = " ".join(paragraph.text.split())
        if not body:
            continue
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
        if style == "Title":
            title = body
        elif style.startswith("Heading"):
            heading = body
        else:
            blocks.append(Block(text=body, group=heading or "", heading=heading))
    for t_number, table in enumerate(document.tables, start=1):
        for r_number, row in enumerate(table.rows, start=1):
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if any(cells):
                blocks.append(Block(text=" | ".join(cells), group=f"table {t_number}", heading=f"table {t_number}", line=r_number))
    if not blocks:
        raise MaterialError("no text in the DOCX")
    return Document(path=path, title=title, blocks=blocks)
