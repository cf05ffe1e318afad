"""The embedder on the packaged MiniLM: tokenizer-only start, neither sentence-transformers nor transformers
for a mean-pooling BERT (its vectors checked against sentence-transformers' own), length-sorted batches,
and each precision path this CPU can take (forced with PERSONA_EMBED_PRECISION or the constructor, so
every path runs here)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from persona_pipeline.rag import embedding_precision
from persona_pipeline.rag.embedding import Embedder

PROJECT = Path(__file__).resolve().parents[1]

TEXTS = ["Threshold runs at 3:38 per kilometre, twice a week in the base period.",
         "Зимний базовый период длится двенадцать недель.",
         "kefir",
         "The taper before a marathon lasts three weeks and the volume falls by forty percent " * 12,
         "Hill repeats: twelve times ninety seconds uphill, jog down as recovery."]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_tokenizer_window_and_dimension_come_without_loading_the_model(embedder):
    light = Embedder()
    counts = [light.count_tokens(t) for t in TEXTS]
    assert light.window == 256 and light.dim == 384
    assert "network" not in light.__dict__ and "model" not in light.__dict__  # nothing above loaded the network
    reference = embedder.model.tokenizer
    assert counts == [len(reference(t, add_special_tokens=False)["input_ids"]) for t in TEXTS]
    assert counts[3] > 128  # the model's tokenizer.json truncates at 128; the counts must not


def test_sorted_batches_return_vectors_in_input_order(embedder):
    fp32 = Embedder(batch_size=2, precision="fp32")
    together = fp32.embed(TEXTS)
    one_by_one = np.vstack([fp32.embed([t]) for t in TEXTS])
    assert np.allclose(together, one_by_one, atol=1e-4)
    progress = []
    fp32.embed(TEXTS, lambda done, total: progress.append((done, total)))
    assert progress == [(2, 5), (4, 5), (5, 5)]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_each_precision_path_stays_within_cosine_099_of_fp32(precision, monkeypatch):
    monkeypatch.setenv(embedding_precision.ENV, precision)
    forced = Embedder()
    forced.encoder  # built: the path for many texts, where the precision applies
    assert forced.precision == precision
    reference = Embedder(precision="fp32").model.encode(TEXTS, normalize_embeddings=True)
    assert _cosines(forced.embed(TEXTS), reference).min() >= 0.99


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_mean_pooling_bert_embeds_without_transformers_and_agrees_with_sentence_transformers(embedder, precision):
    light = Embedder(batch_size=3, precision=precision)  # 3: some batches hold two lengths, so padding is masked
    many = TEXTS * 8  # above FEW_TEXTS: the path a build takes, in the forced precision
    vectors = light.embed(many)
    assert "model" not in light.__dict__
    reference = embedder.model.encode(many, normalize_embeddings=True)
    assert _cosines(vectors, reference).min() >= (0.9999 if precision == "fp32" else 0.999)
    few = Embedder(precision=precision).embed(TEXTS[:2])  # a few texts, before any precision is needed: fp32
    assert _cosines(few, reference[:2]).min() >= 0.9999
    script = ("import sys; from persona_pipeline.rag.embedding import Embedder; e = Embedder(); "
              "e.embed_query('taper'); e.embed(['hill repeats %d' % i for i in range(100)]); "
              "print(sorted({'sentence_transformers', 'transformers'} & set(sys.modules)))")
    fresh = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(PROJECT), "PERSONA_EMBED_PRECISION": precision})
    assert fresh.stdout.strip().splitlines()[-1] == "[]"


def test_a_question_embeds_the_same_before_and_after_a_bf16_build_in_the_process():
    """Routing and evidence embed many texts (bf16 where it is faster) before the question is retrieved;
    the question's vector, so what it retrieves, must not depend on that history."""
    embedder = Embedder(precision="bf16")
    before = embedder.embed_query(TEXTS[0])
    embedder.embed(TEXTS * 8)  # above FEW_TEXTS: builds and uses the bf16 copy
    assert "encoder" in embedder.__dict__
    assert np.array_equal(embedder.embed_query(TEXTS[0]), before)


def test_auto_measures_once_per_cpu_where_bf16_is_native_and_never_where_it_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_MODEL_CACHE", str(tmp_path))
    monkeypatch.delenv(embedding_precision.ENV, raising=False)
    monkeypatch.setattr(embedding_precision, "native_bf16", lambda: False)
    assert Embedder().precision == "fp32"
    assert not (tmp_path / embedding_precision.CHOICES_FILE).exists()

    monkeypatch.setattr(embedding_precision, "native_bf16", lambda: True)
    chosen = Embedder().precision
    choices = json.loads((tmp_path / embedding_precision.CHOICES_FILE).read_text())
    [(key, record)] = choices.items()
    assert record["precision"] == chosen and record["min_cosine"] > 0.9 and record["bf16_speedup"] > 0
    assert "packaged" in key
    monkeypatch.setattr(embedding_precision, "calibrate", lambda embedder: pytest.fail("measured twice"))
    assert Embedder().precision == chosen


def test_an_unknown_forced_precision_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(embedding_precision.ENV, "fp8")
    with pytest.raises(ValueError, match="PERSONA_EMBED_PRECISION='fp8'"):
        Embedder().precision


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_another_pooling_layout_is_embedded_by_sentence_transformers(embedder, tmp_path, precision):
    import shutil

    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "cls-pooled"
    shutil.copytree(Path(embedder.path), folder)
    pooling = folder / "1_Pooling" / "config.json"
    pooling.write_text(pooling.read_text().replace('"pooling_mode_cls_token": false', '"pooling_mode_cls_token": true')
                       .replace('"pooling_mode_mean_tokens": true', '"pooling_mode_mean_tokens": false'))
    cls_pooled = Embedder(str(folder), batch_size=2, precision=precision)
    many = TEXTS * 8
    vectors = cls_pooled.embed(many)
    assert "model" in cls_pooled.__dict__  # sentence-transformers ran it
    reference = SentenceTransformer(str(folder), device="cpu").encode(many, normalize_embeddings=True)
    assert _cosines(vectors, reference).min() >= (0.9999 if precision == "fp32" else 0.99)
    assert _cosines(vectors, embedder.embed(many)).max() < 0.999  # not the mean-pooled vectors


def test_only_the_bert_it_implements_runs_without_sentence_transformers(embedder, tmp_path):
    import shutil

    from persona_pipeline.rag.network_encoders import MeanPoolingEncoder

    assert MeanPoolingEncoder.handles(Path(embedder.path))
    folder = tmp_path / "other-activation"
    shutil.copytree(Path(embedder.path), folder)
    config = folder / "config.json"
    config.write_text(config.read_text().replace('"hidden_act": "gelu"', '"hidden_act": "gelu_new"'))
    assert not MeanPoolingEncoder.handles(folder)
