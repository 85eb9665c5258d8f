"""What pictures and PDF pages say, through the HTTP API: hits carry ``matched``, ``says``, ``words``,
``page`` and ``page_label`` (no paths); a PDF's page is served as its rendered page (``image_url``,
``thumbnail_url``) and as its PDF (``file_url``: ``/api/images/{id}/file#page=N``, with the PDF's
media type, never a path outside the store's files); the OpenAPI document describes them.

A store of the demo model over a text PDF (tests/documents.py: page 2 says "Quarterly revenue
2026", labelled "1"; figures on pages 2 and 3) and the demo's photos, indexed without OCR.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import create_app
from siglip_retriever.app.routes.images import PDF_POLICY
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.store.fingerprints import hash_distance, rgb_fingerprint
from tests.documents import write_photos, write_text_pdf

QUERY = "quarterly revenue"


@dataclass
class Docs:
    root: Path
    pdf: Path
    store: MultimodalStore
    client: TestClient


def _docs(root: Path) -> Docs:
    (root / "docs").mkdir(parents=True)
    pdf = write_text_pdf(root / "docs" / "report.pdf")
    write_photos(root / "photos")
    store = MultimodalStore(root / "db", model="demo")
    report = store.index_folder(root, ocr="off")
    assert not report.failed, report.failed
    return Docs(root, pdf, store, TestClient(create_app(store), base_url="http://127.0.0.1"))


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Docs]:
    found = _docs(tmp_path_factory.mktemp("api-docs"))
    yield found
    found.store.close()


def _search(docs: Docs, query: str = QUERY, **params: object) -> list[dict[str, object]]:
    response = docs.client.get("/api/search", params={"q": query, **params})
    assert response.status_code == 200, response.text
    assert str(docs.root) not in response.text  # no path, anywhere in the answer
    hits: list[dict[str, object]] = response.json()["hits"]
    return hits


def _page_id(docs: Docs, page: int, figure: int = 0) -> str:
    (found,) = [
        item.id
        for item in docs.store.get()
        if item.metadata.get("page") == page and (item.metadata.get("figure") or 0) == figure
    ]
    return found


def test_hits_say_why_they_matched_with_the_words_and_the_page(docs: Docs) -> None:
    hits = _search(docs, k=4)
    assert [hit["id"] for hit in hits] == [h.id for h in Retriever(docs.store).search_text(QUERY, k=4)]
    best = hits[0]
    assert best["matched"] in ("says", "both")
    assert best["says"] == "Quarterly revenue 2026\nRevenue grew in every quarter"
    assert best["words"] == ["Quarterly", "revenue", "Revenue"]
    assert (best["page"], best["page_label"], best["name"]) == (2, "1", "report.pdf")
    metadata = best["metadata"]
    assert isinstance(metadata, dict)
    assert "source" not in metadata and "uri" not in metadata  # paths are never answered
    assert (metadata["page"], metadata["part"]) == (2, "page")
    base = f"/api/images/{best['id']}"
    assert (best["image_url"], best["thumbnail_url"]) == (base, f"{base}/thumbnail")
    assert best["file_url"] == f"{base}/file#page=2"  # the PDF, opened at its page
    photos = [hit for hit in hits if hit["page"] is None]
    assert photos and all(hit["page_label"] is None for hit in photos)
    assert all(str(hit["file_url"]).endswith("/file") for hit in photos)
    visual = _search(docs, k=4, mode="visual")
    assert all(hit["matched"] is None and hit["says"] is None and hit["words"] == [] for hit in visual)


def test_a_pdf_page_is_served_rendered_and_its_pdf_at_its_page(docs: Docs) -> None:
    page_id = _page_id(docs, 2)
    stored = docs.store.get([page_id])[0].metadata
    picture = docs.client.get(f"/api/images/{page_id}")
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png"
    rendered = Image.open(io.BytesIO(picture.content))
    assert rendered.size == (stored["width"], stored["height"])  # the page as indexing rendered it
    etag = picture.headers["etag"]
    again = docs.client.get(f"/api/images/{page_id}", headers={"if-none-match": etag})
    assert again.status_code == 304
    other = docs.client.get(f"/api/images/{_page_id(docs, 3)}")
    assert other.headers["etag"] != etag and other.content != picture.content

    thumb = docs.client.get(f"/api/images/{page_id}/thumbnail")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 256
    third = docs.client.get(f"/api/images/{_page_id(docs, 3)}/thumbnail")
    assert third.headers["etag"] != thumb.headers["etag"]  # one file, a thumbnail per page

    pdf = docs.client.get(f"/api/images/{page_id}/file")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == docs.pdf.read_bytes()
    assert pdf.headers["content-disposition"] == 'inline; filename="report.pdf"'
    assert pdf.headers["content-security-policy"] == PDF_POLICY  # the viewer may show it
    assert pdf.headers["x-frame-options"] == "DENY"
    part = docs.client.get(f"/api/images/{page_id}/file", headers={"range": "bytes=0-3"})
    assert (part.status_code, part.content) == (206, b"%PDF")  # viewers read PDFs in ranges


def test_a_figure_is_served_as_its_own_pixels(docs: Docs) -> None:
    for page, figure in ((2, 1), (3, 1), (3, 2)):
        figure_id = _page_id(docs, page, figure)
        stored = docs.store.get([figure_id])[0].metadata
        response = docs.client.get(f"/api/images/{figure_id}")
        assert response.headers["content-type"] == "image/png"
        served = Image.open(io.BytesIO(response.content)).convert("RGB")
        assert served.size == (stored["width"], stored["height"])
        assert hash_distance(rgb_fingerprint(served), stored["phash"]) <= 4
    assert docs.client.get(f"/api/images/{_page_id(docs, 3, 2)}/file").content == docs.pdf.read_bytes()


def test_openapi_documents_the_words_and_pages(docs: Docs) -> None:
    schema = docs.client.get("/openapi.json").json()
    hit = schema["components"]["schemas"]["Hit"]["properties"]
    for field in ("matched", "says", "words", "page", "page_label", "file_url"):
        assert hit[field]["description"], field
    assert {"shows", "says", "both"} <= set(json.dumps(hit["matched"]).replace('"', " ").split())
    route = schema["paths"]["/api/images/{image_id}/file"]["get"]
    assert {"application/pdf", "image/*"} <= set(route["responses"]["200"]["content"])
    assert "404" in route["responses"]


def test_a_pdf_gone_or_replaced_is_not_served(tmp_path: Path) -> None:
    local = _docs(tmp_path)
    try:
        page_id = _page_id(local, 2)
        backup = tmp_path / "backup.pdf"
        shutil.copyfile(local.pdf, backup)
        local.pdf.write_text("TOP-SECRET, no PDF")  # the path now holds something else
        for suffix in ("", "/thumbnail", "/file"):
            response = local.client.get(f"/api/images/{page_id}{suffix}")
            assert response.status_code == 404, (suffix, response.text)
            assert response.json()["error"] == "not_found"
            assert "TOP-SECRET" not in response.text and str(tmp_path) not in response.text
        local.pdf.unlink()
        for suffix in ("", "/thumbnail", "/file"):
            response = local.client.get(f"/api/images/{page_id}{suffix}")
            assert "gone" in response.json()["message"]
    finally:
        local.store.close()
