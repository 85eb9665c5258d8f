"""The search commands over video moments (cli/search.py, cli/output.py): a moment is printed as
``clip.webm 0:07-0:10`` with the video's other moments under it (``also at:``), ``--all-moments``
lists each moment, ``--json`` carries ``start``, ``end``, ``frame`` and ``moments``; on clips of
the test corpus indexed by the CLI with the demo model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from siglip_retriever.search.hits import format_span
from tests.helpers import run_cli
from tests.videos import H264_SCENES, VP9_SCENES, Scene, scene_picture, write_shape_clip

RED_SQUARE = VP9_SCENES[2]  # shapes.webm from 6.5 s to 9.5 s; no other clip shows a red square


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Global options for a store holding the moments of a WebM (VP9) and an MP4 (H.264) clip."""
    root = tmp_path_factory.mktemp("cli-videos")
    write_shape_clip(root / "clips" / "shapes.webm", VP9_SCENES, codec="libvpx-vp9")
    write_shape_clip(root / "clips" / "shapes.mp4", H264_SCENES)
    options = ["--model", "demo", "--db", str(root / "db"), "--device", "cpu"]
    indexed = run_cli(*options, "index", str(root / "clips"))
    assert indexed.exit_code == 0, indexed.output
    return options


def _hits(options: list[str], *args: str) -> list[dict[str, Any]]:
    result = run_cli(*options, *args, "--json")
    assert result.exit_code == 0, result.output
    hits: list[dict[str, Any]] = json.loads(result.stdout)["hits"]
    return hits


def _table(options: list[str], *args: str) -> list[str]:
    result = run_cli(*options, *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()


def _overlaps(hit: dict[str, Any], scene: Scene) -> bool:
    return bool(hit["start"] < scene.end and hit["end"] > scene.start)


def test_a_moment_is_printed_with_its_span_and_the_video_s_other_moments(videos: list[str]) -> None:
    hits = _hits(videos, "search", RED_SQUARE.caption, "-k", "3")
    best = hits[0]
    assert best["kind"] == "video" and best["uri"].endswith("shapes.webm")
    assert _overlaps(best, RED_SQUARE), best
    assert best["start"] <= best["frame"] < best["end"]
    assert best["metadata"]["source"] == best["uri"]
    others = best["moments"]
    assert len(others) == len(VP9_SCENES) - 1
    assert all(set(moment) == {"id", "start", "end", "probability", "similarity"} for moment in others)

    lines = _table(videos, "search", RED_SQUARE.caption, "-k", "3")
    first = lines[1]
    assert first.split()[0] == "1"
    assert first.endswith(f"shapes.webm {format_span(best['start'], best['end'])} (+2 moments)"), first
    spans = [format_span(moment["start"], moment["end"]) for moment in others]
    assert lines[2].strip() == f"also at: {', '.join(spans)}"
    ranked = [line for line in lines[3:] if not line.strip().startswith("also at:")]
    assert [line.split()[0] for line in ranked] == [str(rank) for rank in range(2, len(hits) + 1)]


def test_a_still_of_a_scene_finds_its_moment(videos: list[str], tmp_path: Path) -> None:
    still = tmp_path / "still.png"
    scene_picture(H264_SCENES[1], (320, 240), seed=7).save(still)
    (best,) = _hits(videos, "similar", str(still), "-k", "1")
    assert best["uri"].endswith("shapes.mp4") and _overlaps(best, H264_SCENES[1]), best
    assert best["moments"] == []  # k=1: no other moment of the video among the results
    lines = _table(videos, "similar", str(still), "-k", "1")
    assert lines[1].endswith(f"shapes.mp4 {format_span(best['start'], best['end'])}"), lines
    assert len(lines) == 2


def test_all_moments_prints_each_moment_on_its_own_line(videos: list[str]) -> None:
    hits = _hits(videos, "search", RED_SQUARE.caption, "-k", "20", "--all-moments")
    assert len(hits) == len(VP9_SCENES) + len(H264_SCENES)
    assert all(hit["moments"] == [] and hit["kind"] == "video" for hit in hits)
    lines = _table(videos, "search", RED_SQUARE.caption, "-k", "20", "--all-moments")
    assert len(lines) == 1 + len(hits)  # no "also at:" lines
    for hit, line in zip(hits, lines[1:], strict=True):
        name = Path(hit["uri"]).name
        assert line.endswith(f"{name} {format_span(hit['start'], hit['end'])}"), line
