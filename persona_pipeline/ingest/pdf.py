"""PDF: one group per page, so every chunk can cite its page."""
from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .document import Block, Document, MaterialError


def parse_pdf(data: bytes, path: str) -> Document:
    if not data.startswith(b"%PDF"):
        raise MaterialError("not a PDF (missing %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = list(reader.pages)
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise MaterialError(f"unreadable PDF: {exc}") from exc
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else None) or path
    blocks, warnings = [], []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except (PyPdfError, ValueError, KeyError, OSError) as exc:
            warnings.append(f"page {number}: unreadable ({exc})")
            continue
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
        paragraphs = [p for p in paragraphs if p] or ([" ".join(text.split())] if text.strip() else [])
        if not paragraphs:
            warnings.append(f"page {number}: no extractable text (scanned image?)")
        blocks.extend(Block(text=p, group=f"page {number}", page=number) for p in paragraphs)
    if not blocks:
        raise MaterialError("no extractable text in the PDF" + (f" ({'; '.join(warnings)})" if warnings else ""))
    return Document(path=path, title=title, blocks=blocks, warnings=warnings)
