"""Whether this CPU runs the int8 mode faster than float32, and the one line that says so.

``SiglipEncoder(..., dtype="int8")`` quantises the Linear layers dynamically; torch runs them
with fbgemm's x86 kernels, which use the VNNI dot-product instructions where the CPU has them,
so how much int8 gains over float32 depends on the CPU. :func:`int8_speedup_hint` gives the
``index`` command one line for its summary when an encoder runs float32 on a CPU with one of
:data:`INT8_FEATURES`, and ``None`` everywhere else. The line quotes :data:`INT8_SPEEDUP` and
:data:`INT8_COSINE`, the figures of BENCHMARKS.md's int8 section (which names the machines and
dates), and points there.

The features come from the ``flags`` line of ``/proc/cpuinfo``, read once per process; where
there is none (macOS, Windows) there is no hint. ``torch.backends.cpu.get_cpu_capability()``
is not used: it says ``"AVX512"`` on CPUs with and without VNNI, and importing torch to ask
would cost a second. Nothing here imports torch or changes any state but its own cache.

Example:
    >>> from siglip_retriever.encoding.cpu import int8_speedup_hint
    >>> hint = int8_speedup_hint("cpu", "float32", flags={"avx2", "avx512f", "avx512_vnni"})
    >>> print(hint)  # doctest: +NORMALIZE_WHITESPACE
    int8 is about 1.5x faster than float32 on this CPU (AVX-512 VNNI): add --dtype int8
    (image vectors at a mean cosine of 0.9997 to float32's; see BENCHMARKS.md, int8)
    >>> int8_speedup_hint("cpu", "float32", flags={"avx2", "fma"}) is None  # no such feature
    True
    >>> int8_speedup_hint("cpu", "int8") is None, int8_speedup_hint("cuda:0", "float16") is None
    (True, True)
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from pathlib import Path

from siglip_retriever.encoding.loading import canonical_dtype

__all__ = [
    "INT8_COSINE",
    "INT8_FEATURES",
    "INT8_SPEEDUP",
    "cpu_flags",
    "int8_features",
    "int8_speedup_hint",
    "read_cpu_flags",
]

INT8_SPEEDUP = 1.5
"""int8's speed over float32 on a CPU with one of :data:`INT8_FEATURES`, as data for the hint: the
figure of BENCHMARKS.md's int8 section, where the runs behind it are described."""

INT8_COSINE = 0.9997
"""Mean cosine of int8 image vectors to their float32 ones, as data for the hint (BENCHMARKS.md,
int8)."""

INT8_FEATURES = {"avx512_vnni": "AVX-512 VNNI", "amx_int8": "AMX"}
"""``/proc/cpuinfo`` flags of the CPUs where BENCHMARKS.md finds int8 faster, and their names."""


def read_cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of the first CPU listed in ``cpuinfo`` (x86 ``flags``, Arm ``Features``);
    empty where the file is missing or unreadable."""
    try:
        with Path(cpuinfo).open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """This machine's CPU feature flags (:func:`read_cpu_flags`), read once per process."""
    return read_cpu_flags()


def int8_features(flags: Collection[str] | None = None) -> list[str]:
    """The names of the features of :data:`INT8_FEATURES` in ``flags`` (default: this CPU's), e.g.
    ``["AVX-512 VNNI", "AMX"]``; empty if none."""
    present = cpu_flags() if flags is None else flags
    return [name for flag, name in INT8_FEATURES.items() if flag in present]


def int8_speedup_hint(device: str, dtype: str, *, flags: Collection[str] | None = None) -> str | None:
    """One line advising ``--dtype int8``, or ``None``.

    Args:
        device: the encoder's resolved device (``encoder.device``: ``"cpu"``, ``"cuda:0"``, ...).
        dtype: the encoder's resolved dtype (``encoder.dtype``); only ``"float32"`` gets a hint.
        flags: the CPU's feature flags; ``None`` reads this machine's (:func:`cpu_flags`).

    Returns:
        The line when the encoder runs float32 on a CPU that has a feature of
        :data:`INT8_FEATURES`; ``None`` on a GPU or MPS, at any other dtype (int8 already,
        float16, bfloat16) and on CPUs without such a feature.
    """
    if device.split(":", 1)[0].strip().lower() != "cpu" or canonical_dtype(dtype) != "float32":
        return None
    features = int8_features(flags)
    if not features:
        return None
    return (
        f"int8 is about {INT8_SPEEDUP:.1f}x faster than float32 on this CPU ({features[0]}): "
        f"add --dtype int8 (image vectors at a mean cosine of {INT8_COSINE} to float32's; "
        "see BENCHMARKS.md, int8)"
    )
