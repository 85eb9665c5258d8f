"""The command line, end to end: CliRunner and the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from siglip_retriever.cli import main


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for colour in ("red", "green", "blue", "yellow"):
        Image.new("RGB", (40, 40), colour).save(folder / f"{colour}.png")
    (folder / "broken.jpg").write_text("not a picture")
    return folder


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def indexed(tiny_siglip_dir: Path, tmp_path: Path) -> tuple[list[str], Path]:
    """Global options for a store holding the tiny model's index of 4 pictures and a broken file."""
    options = ["--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "--device", "cpu"]
    photos = _photos(tmp_path / "photos")
    result = _run(*options, "index", str(photos))
    assert result.exit_code == 0, result.output
    return options, photos


def test_index_summary_failures_and_report(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    options, photos = indexed
    report = tmp_path / "report.json"
    again = _run(*options, "index", str(photos), "--report", str(report))
    assert again.exit_code == 0
    assert "0 added, 0 updated, 4 skipped, 1 failed" in again.stdout
    assert "broken.jpg: a text file, not an image" in again.stderr
    assert "store " in again.stdout
    data = json.loads(report.read_text())
    assert data[0]["failed"][0]["path"].endswith("broken.jpg")
    as_json = _run(*options, "index", str(photos / "red.png"), "--json")
    assert as_json.exit_code == 0
    single = json.loads(as_json.stdout)
    assert [Path(f["path"]).name for f in single[0]["skipped"]] == ["red.png"]


def test_search_table_and_json(indexed: tuple[list[str], Path]) -> None:
    options, _ = indexed
    table = _run(*options, "search", "un cercle rouge", "-k", "2")
    assert table.exit_code == 0, table.output
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["rank", "prob", "cosine", "item"]
    assert len(lines) == 3
    result = _run(*options, "search", "红色的圆", "--k", "3", "--json")
    data = json.loads(result.stdout)
    assert set(data) == {"query", "model", "score_kind", "hits"}
    assert data["score_kind"] == "sigmoid"
    assert len(data["hits"]) == 3
    hit = data["hits"][0]
    assert set(hit) == {"rank", "id", "kind", "uri", "text", "similarity", "probability", "metadata"}
    assert 0.0 <= hit["probability"] <= 1.0
    nothing = _run(*options, "search", "a red circle", "--min-prob", "1", "--json")
    assert json.loads(nothing.stdout)["hits"] == []
    assert "no match" in _run(*options, "search", "x", "--min-prob", "1").stdout
    filtered = _run(*options, "search", "x", "--where", '{"kind": "text"}', "--json")
    assert json.loads(filtered.stdout)["hits"] == []


def test_similar_classify_info(indexed: tuple[list[str], Path]) -> None:
    options, photos = indexed
    similar = _run(*options, "similar", str(photos / "red.png"), "-k", "2", "--json")
    assert similar.exit_code == 0, similar.output
    hits = json.loads(similar.stdout)["hits"]
    assert len(hits) == 2
    assert all(not h["uri"].endswith("red.png") for h in hits)

    classify = _run(
        *options, "classify", str(photos / "red.png"), str(photos / "blue.png"),
        "--labels", "red,blue,rouge", "--template", "a photo of {}", "--template", "{}", "--json",
    )  # fmt: skip
    assert classify.exit_code == 0, classify.output
    data = json.loads(classify.stdout)
    assert data["score_kind"] == "sigmoid"
    assert data["templates"] == ["a photo of {}", "{}"]
    assert [len(r["labels"]) for r in data["results"]] == [3, 3]
    assert {r["top"] for r in data["results"]} <= {"red", "blue", "rouge"}
    table = _run(*options, "classify", str(photos / "red.png"), "--labels", "red, blue")
    assert table.exit_code == 0
    assert "red" in table.stdout

    info = _run(*options, "info", "--json")
    facts = json.loads(info.stdout)
    assert facts["images"] == 4
    assert facts["texts"] == 0
    assert facts["dim"] == 32
    assert "images" in _run(*options, "info").stdout


def test_user_errors_are_one_line(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    options, _ = indexed
    empty = _run(*options, "search", "   ")
    assert empty.exit_code == 1
    assert empty.stderr.strip() == "error: the query is empty; type what the picture should show"
    unknown = _run("--model", "no such model", "--db", str(tmp_path / "db"), "info")
    assert unknown.exit_code == 1
    assert "unknown model 'no such model'" in unknown.stderr
    assert "Traceback" not in unknown.output
    missing = _run(*options, "index", str(tmp_path / "missing"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
    no_store = _run("--db", str(tmp_path / "nowhere"), "search", "cat")
    assert no_store.exit_code == 1
    assert "no store at" in no_store.stderr
    bad_where = _run(*options, "search", "x", "--where", "{oops")
    assert bad_where.exit_code == 1
    assert "--where must be JSON" in bad_where.stderr


def test_store_built_with_another_model(indexed: tuple[list[str], Path], tmp_path: Path) -> None:
    from siglip_retriever.tiny import build_checkpoint

    other = build_checkpoint(tmp_path / "other", hidden_size=16)
    result = _run("--model", str(other), "--db", str(tmp_path / "db"), "search", "cat")
    assert result.exit_code == 1
    assert "was built with model" in result.stderr
    verbose = _run("-v", "--model", str(other), "--db", str(tmp_path / "db"), "search", "cat")
    assert verbose.exit_code == 1
    assert type(verbose.exception).__name__ == "ModelMismatchError"


def test_unreachable_server_and_env_settings(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    from tests.conftest import _free_port

    port = str(_free_port())
    result = _run("--host", "127.0.0.1", "--port", port, "info")
    assert result.exit_code == 1
    assert f"no Chroma server answers at http://127.0.0.1:{port}" in result.stderr
    env = {"SIGLIP_RETRIEVER_MODEL": str(tiny_siglip_dir), "SIGLIP_RETRIEVER_DB": str(tmp_path / "envdb")}
    photos = _photos(tmp_path / "photos")
    assert _run("index", str(photos), env=env).exit_code == 0
    assert json.loads(_run("info", "--json", env=env).stdout)["images"] == 4


def test_server_mode(chroma_server: tuple[str, int], tiny_siglip_dir: Path, tmp_path: Path) -> None:
    host, port = chroma_server
    options = ["--model", str(tiny_siglip_dir), "--host", host, "--port", str(port), "--collection", "cli"]
    assert _run(*options, "index", str(_photos(tmp_path / "photos"))).exit_code == 0
    info = json.loads(_run(*options, "info", "--json").stdout)
    assert info["images"] == 4
    assert info["location"].startswith("http://127.0.0.1")


def test_console_script_end_to_end(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("siglip-retriever")
    photos = _photos(tmp_path / "photos")
    base = [str(script), "--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db")]
    indexed = subprocess.run([*base, "index", str(photos)], capture_output=True, text=True, timeout=300)
    assert indexed.returncode == 0, indexed.stderr
    assert "4 added" in indexed.stdout
    searched = subprocess.run(
        [*base, "search", "a red circle", "--json"], capture_output=True, text=True, timeout=300
    )
    assert searched.returncode == 0, searched.stderr
    assert len(json.loads(searched.stdout)["hits"]) == 4
    assert "Loading weights" not in searched.stderr  # library noise is hidden without --verbose
