"""HTML: the main text only (article/main), without menus, banners, footers or scripts."""
from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .decoding import decode_text
from .document import Block, Document, MaterialError

_BOILERPLATE = "script, style, noscript, nav, header, footer, aside, form, iframe, svg, button"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_TEXT_TAGS = "h1, h2, h3, h4, h5, h6, p, li, blockquote, pre, td"


def parse_html(data: bytes, path: str) -> Document:
    text, _ = decode_text(data)
    tree = HTMLParser(text)
    title_node = tree.css_first("title")
    for node in tree.css(_BOILERPLATE):
        node.decompose()
    root = tree.css_first("article") or tree.css_first("main") or tree.body
    if root is None:
        raise MaterialError("HTML without a body")
    title = title_node.text(strip=True) if title_node else path
    heading, blocks = None, []
    for node in root.css(_TEXT_TAGS):
        if node.parent is not None and node.parent.tag in {"li", "blockquote", "td"}:
            continue
        body = " ".join(node.text(separator=" ").split())
        if not body:
            continue
        if node.tag == "h1":
            title = body
        elif node.tag in _HEADINGS:
            heading = body
        else:
            blocks.append(Block(text=body, group=heading or "", heading=heading))
    if not blocks:
        raise MaterialError("no main text found in the HTML")
    return Document(path=path, title=title, blocks=blocks)
