"""The int8 hint: which CPUs get it, which encoders never do, and how the flags are read."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from siglip_retriever.encoding import cpu

VNNI_XEON = frozenset({"sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "amx_int8", "amx_tile"})
AVX2_ONLY = frozenset({"sse4_2", "avx2", "fma"})


@pytest.fixture
def this_cpu(monkeypatch: pytest.MonkeyPatch) -> Callable[[frozenset[str]], None]:
    """Make the capability detection report the given flags, as if this machine had them."""

    def set_flags(flags: frozenset[str]) -> None:
        monkeypatch.setattr(cpu, "cpu_flags", lambda: flags)

    return set_flags


def test_a_float32_cpu_encoder_on_a_vnni_cpu_gets_the_hint(
    this_cpu: Callable[[frozenset[str]], None],
) -> None:
    this_cpu(VNNI_XEON)
    hint = cpu.int8_speedup_hint("cpu", "float32")
    assert hint is not None
    assert "\n" not in hint
    assert f"{cpu.INT8_SPEEDUP:.1f}x" in hint
    assert "AVX-512 VNNI" in hint
    assert "--dtype int8" in hint
    assert "BENCHMARKS.md" in hint
    # the dtype's aliases and the device's index are the same encoder
    assert cpu.int8_speedup_hint("cpu:0", "fp32") == hint
    assert cpu.int8_speedup_hint("CPU", "torch.float32") == hint


def test_amx_alone_is_named_when_it_is_the_only_feature(this_cpu: Callable[[frozenset[str]], None]) -> None:
    this_cpu(frozenset({"avx2", "amx_int8"}))
    hint = cpu.int8_speedup_hint("cpu", "float32")
    assert hint is not None
    assert "(AMX)" in hint


@pytest.mark.parametrize(
    ("device", "dtype"),
    [
        ("cpu", "int8"),  # already int8
        ("cpu", "bfloat16"),  # not the dtype int8 was measured against
        ("cuda", "float16"),
        ("cuda:1", "float32"),
        ("mps", "float32"),
    ],
)
def test_no_hint_off_a_float32_cpu_encoder(
    this_cpu: Callable[[frozenset[str]], None], device: str, dtype: str
) -> None:
    this_cpu(VNNI_XEON)
    assert cpu.int8_speedup_hint(device, dtype) is None


@pytest.mark.parametrize(
    "flags",
    [AVX2_ONLY, AVX2_ONLY | {"avx_vnni"}, AVX2_ONLY | {"avx512f", "avx512bw"}, frozenset()],
    ids=["avx2", "avx-vnni-without-avx512 (not measured)", "avx512-without-vnni", "unknown-cpu"],
)
def test_no_hint_on_a_cpu_where_int8_was_not_measured_faster(
    this_cpu: Callable[[frozenset[str]], None], flags: frozenset[str]
) -> None:
    this_cpu(flags)
    assert cpu.int8_features() == []
    assert cpu.int8_speedup_hint("cpu", "float32") is None


def test_explicit_flags_take_the_place_of_the_machine_s(this_cpu: Callable[[frozenset[str]], None]) -> None:
    this_cpu(AVX2_ONLY)
    assert cpu.int8_speedup_hint("cpu", "float32", flags={"avx512_vnni"}) is not None
    this_cpu(VNNI_XEON)
    assert cpu.int8_speedup_hint("cpu", "float32", flags=AVX2_ONLY) is None
    assert cpu.int8_features(VNNI_XEON) == ["AVX-512 VNNI", "AMX"]


def test_flags_are_read_from_the_first_processor_of_cpuinfo(tmp_path: Path) -> None:
    x86 = tmp_path / "x86"
    x86.write_text(
        "processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512_vnni\n\n"
        "processor\t: 1\nflags\t\t: fpu\n",
        encoding="utf-8",
    )
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp\n", encoding="utf-8")
    assert cpu.read_cpu_flags(x86) == {"fpu", "avx2", "avx512_vnni"}
    assert cpu.read_cpu_flags(arm) == {"fp", "asimd", "asimddp"}
    assert cpu.read_cpu_flags(tmp_path / "missing") == frozenset()
    assert cpu.int8_speedup_hint("cpu", "float32", flags=cpu.read_cpu_flags(arm)) is None


def test_the_machine_s_flags_are_read_once() -> None:
    assert cpu.cpu_flags() is cpu.cpu_flags()
    assert isinstance(cpu.cpu_flags(), frozenset)


def test_importing_the_module_imports_no_torch() -> None:
    probe = "import sys, siglip_retriever.encoding.cpu as c; c.int8_speedup_hint('cpu', 'float32'); "
    probe += "print(sorted({'torch', 'transformers', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
