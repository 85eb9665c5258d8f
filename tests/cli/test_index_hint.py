"""``index`` on a CPU where int8 was measured faster says so in one line, without changing the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from siglip_retriever.encoding import cpu
from tests.helpers import colour_pictures, run_cli


@pytest.mark.parametrize(
    ("flags", "dtype", "tip"),
    [
        ({"avx2", "avx512f", "avx512_vnni"}, "float32", True),
        ({"avx2", "avx512f", "avx512_vnni"}, "int8", False),  # already int8
        ({"avx2", "fma"}, "float32", False),  # int8 not measured faster on this CPU
    ],
)
def test_the_int8_tip_shows_where_int8_is_faster(
    tiny_siglip_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: set[str],
    dtype: str,
    tip: bool,
) -> None:
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset(flags))
    photos = tmp_path / "photos"
    colour_pictures(photos, ["red", "blue"])
    db = tmp_path / "db"
    args = ["index", str(photos), "--model", str(tiny_siglip_dir), "--db", str(db), "--dtype", dtype]
    result = run_cli(*args, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (f"tip: int8 is about {cpu.INT8_SPEEDUP:.1f}x faster than float32" in result.output) is tip
    if tip:
        assert "add --dtype int8" in result.output
        assert db.exists()  # the default stays float32: the tip only says it
    rerun = run_cli(*args, "--device", "cpu")
    assert "tip:" not in rerun.output  # nothing embedded: nothing to say
