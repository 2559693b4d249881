"""emolib.benchmark's CPU description, on fake /proc/cpuinfo texts (no machine dependence)."""

from emolib.benchmark import cpu_int8_support, describe_cpu

VNNI = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Fake Xeon 8480
flags\t\t: fpu sse4_2 avx avx2 avx512f avx512_vnni amx_int8 amx_tile

processor\t: 1
model name\t: Fake Xeon 8480
flags\t\t: fpu sse4_2 avx avx2 avx512f avx512_vnni amx_int8 amx_tile
"""

AVX2_ONLY = """processor\t: 0
model name\t: Fake Core i7
flags\t\t: fpu sse4_2 avx avx2 fma avx512f
"""


def test_vnni_and_amx_are_read_from_the_flags():
    info = cpu_int8_support(VNNI)
    assert info["model"] == "Fake Xeon 8480"
    assert info["flags"] == {"AVX2": True, "AVX512-VNNI": True, "AVX-VNNI": False, "AMX-INT8": True}
    assert info["int8_dot_product"] is True
    assert "AVX512-VNNI yes" in describe_cpu(info) and "has 8-bit dot-product" in describe_cpu(info)


def test_avx2_without_vnni_has_no_dot_product():
    info = cpu_int8_support(AVX2_ONLY)
    assert info["flags"] == {"AVX2": True, "AVX512-VNNI": False, "AVX-VNNI": False, "AMX-INT8": False}
    assert info["int8_dot_product"] is False
    assert "no VNNI" in describe_cpu(info)


def test_avx_vnni_alone_counts():
    info = cpu_int8_support("model name: Fake Core Ultra\nflags: avx2 avx_vnni\n")
    assert info["flags"]["AVX-VNNI"] is True and info["int8_dot_product"] is True


def test_no_flags_line_is_unknown():
    info = cpu_int8_support("Processor\t: ARMv8\nFeatures\t: fp asimd\n")
    assert info["flags"] == "unknown" and info["int8_dot_product"] is None
    assert info["model"]  # platform.processor() or "unknown", never empty
    assert "unknown" in describe_cpu(info)
