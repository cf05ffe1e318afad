"""What the CPU can do decides the bf16 paths; oneDNN held to an older instruction set (ONEDNN_MAX_CPU_ISA)
must count as a CPU without native bf16, which is how the benchmarks take the AVX2 path on a bf16 CPU."""
import pytest

from persona_pipeline import cpu
from persona_pipeline.rag import embedding_precision
from persona_pipeline.rag.embedding import Embedder

BF16_CPU = ("a CPU with bf16", frozenset({"avx2", "avx512f", "avx512_bf16"}))


@pytest.mark.parametrize(("cap", "native"), [(None, True), ("ALL", True), ("AVX512_CORE_BF16", True),
                                             ("avx2", False), ("AVX512_CORE_VNNI", False)])
def test_bf16_is_native_only_where_the_cpu_has_it_and_onednn_may_use_it(cap, native, monkeypatch):
    monkeypatch.setattr(cpu, "_cpuinfo", lambda: BF16_CPU)
    if cap:
        monkeypatch.setenv(cpu.ONEDNN_ISA_CAP, cap)
    else:
        monkeypatch.delenv(cpu.ONEDNN_ISA_CAP, raising=False)
    assert cpu.native_bf16() is native
    assert ("held to" in cpu.describe()) is (cap not in (None, "ALL"))


def test_avx2_cap_embeds_in_fp32_without_measuring(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_MODEL_CACHE", str(tmp_path))
    monkeypatch.delenv(embedding_precision.ENV, raising=False)
    monkeypatch.setenv(cpu.ONEDNN_ISA_CAP, "AVX2")
    assert Embedder().precision == "fp32"
    assert not (tmp_path / embedding_precision.CHOICES_FILE).exists()
