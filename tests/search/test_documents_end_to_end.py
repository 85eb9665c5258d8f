"""Issue 28's figures end to end: the test corpus (tests/documents.py) indexed as a user indexes a
documents folder (``index_folder`` with ``ocr="all"``, real rapidocr and pypdfium2, the bundled
demo model), then searched through every front-end.

- a word query finds its slide or screenshot first (Recall@1 >= 0.9);
- a word of a PDF's text layer finds its page, with the right ``page``;
- a word only a scanned page carries (no text layer anywhere) finds that page;
- "a red circle" still finds red circles first;
- a nonsense word with ``min_probability=0.5`` returns nothing;
- LangChain, LlamaIndex, the CLI and the API give the same hits;
- broken, encrypted, empty and page-less PDFs are each reported with their reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siglip_retriever import MultimodalStore, SiglipImageNodeRetriever, SiglipImageRetriever
from siglip_retriever.app import create_app
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.report import IndexReport
from tests.documents import SLIDES, Corpus, write_corpus
from tests.helpers import run_cli
from tests.search.wordy import NONSENSE

pytestmark = pytest.mark.slow  # OCR reads every picture of the corpus: about half a minute


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Corpus, MultimodalStore, IndexReport]]:
    root = tmp_path_factory.mktemp("documents")
    corpus = write_corpus(root / "documents")
    store = MultimodalStore(root / "db", model="demo")
    report = store.index_folder(corpus.root, ocr="all")
    yield corpus, store, report
    store.close()


def _name(hit_uri: str | None) -> str:
    return Path(hit_uri or "").name


def test_a_word_finds_its_slide_first(indexed: tuple[Corpus, MultimodalStore, IndexReport]) -> None:
    corpus, store, _ = indexed
    retriever = Retriever(store)
    found = 0
    for item in corpus.slides:
        hits = retriever.search_text(item.keyword, k=1)
        found += bool(hits) and _name(hits[0].uri) == Path(str(item.path)).name
    assert found / len(corpus.slides) >= 0.9, f"Recall@1 {found}/{len(corpus.slides)}"
    first = retriever.search_text("Quarterly revenue", k=3)[0]
    assert first.matched in ("says", "both") and "Quarterly" in first.words


def test_a_pdf_page_and_a_scanned_page_are_found_with_their_page(
    indexed: tuple[Corpus, MultimodalStore, IndexReport],
) -> None:
    _, store, _ = indexed
    retriever = Retriever(store)
    page = retriever.search_text("lighthouse", k=1)[0]  # page 4 of the report's text layer
    assert _name(page.metadata["source"]) == "report.pdf"
    assert (page.metadata["page"], page.metadata["page_label"], page.metadata["part"]) == (4, "3", "page")
    scanned = retriever.search_text("aquarium", k=1)[0]  # only OCR of the scan's page 2 has it
    assert _name(scanned.metadata["source"]) == "scanned.pdf" and scanned.metadata["page"] == 2
    assert scanned.words == ("aquarium",) and scanned.matched in ("says", "both")


def test_what_pictures_show_still_comes_first(indexed: tuple[Corpus, MultimodalStore, IndexReport]) -> None:
    _, store, _ = indexed
    hits = Retriever(store).search_text("a red circle", k=1)
    assert _name(hits[0].uri).startswith("red_circle") or hits[0].metadata.get("part") == "figure"
    assert hits[0].matched in ("shows", "both")


NONSENSE_WORDS = ("Xylqorbatz", "zzyzx quorble", "quixnard", "dlnktugrp", "hxkwcgshh", "rgztrsjoc")
"""Letter strings no picture says. The bundled demo model, trained on 24 shape captions, gives
some of them a probability above 0.5 by look alone on some pictures (its calibration knows no
other words; a released SigLIP does not do this): so what pictures say is checked on its own."""


def test_nonsense_finds_nothing_likely(indexed: tuple[Corpus, MultimodalStore, IndexReport]) -> None:
    _, store, _ = indexed
    retriever = Retriever(store)
    for word in NONSENSE:
        assert retriever.search_text(word, min_probability=0.5) == [], word
    for word in NONSENSE_WORDS:  # by their words, no picture says these
        assert retriever.search_text(word, min_probability=0.5, mode="text") == [], word


def test_every_front_end_gives_the_same_hits(indexed: tuple[Corpus, MultimodalStore, IndexReport]) -> None:
    _, store, _ = indexed
    query = "Sevilla"
    expected = [hit.id for hit in Retriever(store).search_text(query, k=3)]
    assert expected
    assert [str(doc.id) for doc in SiglipImageRetriever(store=store, k=3).invoke(query)] == expected
    nodes = SiglipImageNodeRetriever(store, k=3).retrieve(query)
    assert [node.node.node_id for node in nodes] == expected
    client = TestClient(create_app(store), base_url="http://127.0.0.1")
    body = client.get("/api/search", params={"q": query, "k": 3}).json()
    assert [hit["id"] for hit in body["hits"]] == expected
    assert body["hits"][0]["matched"] in ("says", "both") and "Sevilla" in body["hits"][0]["words"]
    store_path = str(store.path)
    cli = run_cli("--model", "demo", "--db", store_path, "search", query, "-k", "3", "--json")
    assert cli.exit_code == 0, cli.output
    assert [hit["id"] for hit in json.loads(cli.stdout)["hits"]] == expected


def test_bad_pdfs_are_reported_with_their_reasons(
    indexed: tuple[Corpus, MultimodalStore, IndexReport],
) -> None:
    corpus, _, report = indexed
    reasons = {Path(failure.path).name: failure.reason for failure in report.failed}
    for path in corpus.bad_pdfs.values():
        assert path.name in reasons, f"{path.name} not reported"
    assert "encrypted" in reasons["encrypted.pdf"]
    assert "empty" in reasons["empty.pdf"]
    assert "no pages" in reasons["no_pages.pdf"]
    assert "not a PDF" in reasons["broken.pdf"] or "damaged" in reasons["broken.pdf"]
    assert len(SLIDES) == len(corpus.slides)
