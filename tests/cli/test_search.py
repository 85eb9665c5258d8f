"""The search commands (cli/search.py): ``search`` as a table and as JSON, thresholds and filters;
``similar``, then ``classify`` and ``info`` on the same store; what pictures and PDF pages say
(the ``says:`` line, the page) in the table and in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from siglip_retriever import MultimodalStore
from siglip_retriever.cli import main
from siglip_retriever.search.retriever import Retriever
from tests.documents import write_photos, write_text_pdf
from tests.helpers import run_cli


def test_search_table_and_json(indexed: tuple[list[str], Path]) -> None:
    options, _ = indexed
    table = run_cli(*options, "search", "un cercle rouge", "-k", "2")
    assert table.exit_code == 0, table.output
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["rank", "prob", "cosine", "item"]
    assert len(lines) == 3
    result = run_cli(*options, "search", "红色的圆", "--k", "3", "--json")
    data = json.loads(result.stdout)
    assert set(data) == {"query", "model", "score_kind", "hits"}
    assert data["score_kind"] == "sigmoid"
    assert len(data["hits"]) == 3
    hit = data["hits"][0]
    assert set(hit) == {
        *("rank", "id", "kind", "uri", "paths", "text", "similarity", "probability", "metadata"),
        *("matched", "says", "words"),  # why a hit matched (None, None, [] for a search by look)
        *("start", "end", "frame", "moments"),  # a video moment's span (None and [] for pictures)
    }
    assert (hit["start"], hit["end"], hit["frame"], hit["moments"]) == (None, None, None, [])
    assert hit["paths"][0] == hit["uri"] and "paths" not in hit["metadata"]
    assert 0.0 <= hit["probability"] <= 1.0
    nothing = run_cli(*options, "search", "a red circle", "--min-probability", "1", "--json")
    assert json.loads(nothing.stdout)["hits"] == []
    assert "no match" in run_cli(*options, "search", "x", "--min-probability", "1").stdout
    filtered = run_cli(*options, "search", "x", "--where", '{"kind": "text"}', "--json")
    assert json.loads(filtered.stdout)["hits"] == []


def test_similar_classify_info(indexed: tuple[list[str], Path]) -> None:
    options, photos = indexed
    similar = run_cli(*options, "similar", str(photos / "red.png"), "-k", "2", "--json")
    assert similar.exit_code == 0, similar.output
    hits = json.loads(similar.stdout)["hits"]
    assert len(hits) == 2
    assert all(not h["uri"].endswith("red.png") for h in hits)

    classify = run_cli(
        *options, "classify", str(photos / "red.png"), str(photos / "blue.png"),
        "--labels", "red,blue,rouge", "--template", "a photo of {}", "--template", "{}", "--json",
    )  # fmt: skip
    assert classify.exit_code == 0, classify.output
    data = json.loads(classify.stdout)
    assert data["score_kind"] == "sigmoid"
    assert data["templates"] == ["a photo of {}", "{}"]
    assert [len(r["labels"]) for r in data["results"]] == [3, 3]
    assert {r["top"] for r in data["results"]} <= {"red", "blue", "rouge"}
    table = run_cli(*options, "classify", str(photos / "red.png"), "--labels", "red, blue")
    assert table.exit_code == 0
    assert "red" in table.stdout

    info = run_cli(*options, "info", "--json")
    facts = json.loads(info.stdout)
    assert facts["images"] == 4
    assert facts["texts"] == 0
    assert facts["dim"] == 32
    assert "images" in run_cli(*options, "info").stdout


def test_thresholds_have_the_search_layers_names_and_rules(indexed: tuple[list[str], Path]) -> None:
    """--min-probability / --min-similarity mean what they mean in every front-end (the earlier
    --min-prob and --min-sim are gone); one that cannot apply to the search is one error line, as
    the library says, and exit code 2."""
    options, photos = indexed
    result = run_cli(*options, "search", "a red circle", "--min-probability", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"] == []
    result = run_cli(*options, "similar", str(photos / "red.png"), "--min-similarity", "1", "--json")
    assert json.loads(result.stdout)["hits"] == []
    for spelling in ("--min-prob", "--min-sim"):
        assert run_cli(*options, "search", "red", spelling, "1").exit_code == 2
    texts = run_cli(*options, "search", "red", "--kind", "text", "--min-similarity", "-1", "--json")
    assert texts.exit_code == 0 and json.loads(texts.stdout)["hits"] == []
    wrong = run_cli(*options, "search", "red", "--kind", "text", "--min-probability", "0.5")
    assert wrong.exit_code == 2
    assert "min_probability applies to image-text pairs" in wrong.stderr
    wrong = run_cli(*options, "search", "red", "--min-similarity", "0.5")
    assert wrong.exit_code == 2
    assert "min_similarity applies to image-image and text-text pairs" in wrong.stderr


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """The demo model's store of a text PDF (page 2 says "Quarterly revenue 2026", labelled "1")
    and the demo's photos, indexed by the CLI without OCR (the PDF's text layer is its words)."""
    root = tmp_path_factory.mktemp("cli-words")
    (root / "docs").mkdir()
    pdf = write_text_pdf(root / "docs" / "report.pdf")
    write_photos(root / "photos")
    options = ["--model", "demo", "--db", str(root / "db"), "--device", "cpu"]
    indexed = run_cli(*options, "index", str(root), "--ocr", "off")
    assert indexed.exit_code == 0, indexed.output
    return options, pdf


def test_search_shows_what_a_pdf_page_says_and_its_page(documents: tuple[list[str], Path]) -> None:
    options, pdf = documents
    table = run_cli(*options, "search", "quarterly revenue", "-k", "3")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[1].endswith("report.pdf p. 2 (labelled 1)"), lines
    # under the item column (rank, prob and cosine take 23 characters), the words whole (short)
    assert lines[2] == " " * 23 + 'says: "Quarterly revenue 2026 Revenue grew in every quarter"', lines
    assert "\x1b[" not in table.stdout  # bold only on a terminal:
    terminal = CliRunner().invoke(main, [*options, "search", "quarterly revenue", "-k", "1"], color=True)
    assert '"\x1b[1mQuarterly\x1b[0m \x1b[1mrevenue\x1b[0m 2026 \x1b[1mRevenue\x1b[0m grew' in terminal.stdout
    figures = run_cli(*options, "search", "a red circle", "-k", "2", "--where", '{"part": "figure"}')
    assert "report.pdf p. 2 (labelled 1) fig. 1" in figures.stdout

    data = json.loads(run_cli(*options, "search", "quarterly revenue", "-k", "3", "--json").stdout)
    store = MultimodalStore(options[3], model="demo")
    try:
        expected = [hit.id for hit in Retriever(store).search_text("quarterly revenue", k=3)]
    finally:
        store.close()
    assert [hit["id"] for hit in data["hits"]] == expected  # the same list as the library's
    best = data["hits"][0]
    assert best["matched"] in ("says", "both")
    assert best["says"] == "Quarterly revenue 2026\nRevenue grew in every quarter"
    assert best["words"] == ["Quarterly", "revenue", "Revenue"]
    assert (best["metadata"]["page"], best["metadata"]["page_label"]) == (2, "1")
    assert best["uri"] == best["metadata"]["source"] == str(pdf.resolve())


def test_a_visual_search_has_no_says_line(documents: tuple[list[str], Path]) -> None:
    options, _ = documents
    table = run_cli(*options, "search", "quarterly revenue", "-k", "3", "--mode", "visual")
    assert table.exit_code == 0, table.output
    assert "says:" not in table.stdout
    assert len(table.stdout.splitlines()) == 4
