"""Diverse results in the web API (app/routes/search.py, app/openapi.py): ``GET /api/search`` with
``diverse``, ``fetch_k``, ``lambda_mult`` and ``collapse_duplicates`` answers the search layer's
picks, within the server's limits, as the OpenAPI document declares them, and so do the two similar
routes; and the page's checkboxes."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.app import Limits, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.copies import smooth_picture, store_copies

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def app_copies(tiny_encoder: SiglipEncoder) -> tuple[MultimodalStore, TestClient, dict[str, int]]:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    groups = store_copies(store)
    client = TestClient(create_app(store, limits=Limits(max_k=30)), base_url=BASE)
    return store, client, {key: n for n, group in enumerate(groups) for key in group}


def _ids(client: TestClient, **params: str | float) -> list[str]:
    response = client.get("/api/search", params={"q": "a picture", **params})
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["hits"]]


def test_diverse_search_answers_the_search_layer_s_picks(
    app_copies: tuple[MultimodalStore, TestClient, dict[str, int]],
) -> None:
    store, client, _ = app_copies
    retriever = Retriever(store)
    expected = retriever.text_to_images("a picture", k=5, diverse=True, fetch_k=15, lambda_mult=0.0)
    assert _ids(client, k=5, diverse="true", fetch_k=15, lambda_mult=0) == [hit.id for hit in expected]
    plain = _ids(client, k=5)
    assert _ids(client, k=5, diverse="true", lambda_mult=1) == plain
    assert _ids(client, k=5, fetch_k=15, lambda_mult=0) == plain  # without diverse=true they do nothing
    small = _ids(client, k=5, diverse="true", fetch_k=2, lambda_mult=0)  # under k: counts as k
    assert small == [
        hit.id for hit in retriever.text_to_images("a picture", k=5, diverse=True, fetch_k=5, lambda_mult=0)
    ]
    default = retriever.text_to_images("a picture", k=5, diverse=True)
    assert _ids(client, k=5, diverse="true") == [hit.id for hit in default]


def test_the_similar_routes_take_the_same_diversity_parameters(
    app_copies: tuple[MultimodalStore, TestClient, dict[str, int]],
) -> None:
    store, client, group_of = app_copies
    retriever = Retriever(store)
    expected = retriever.similar_to_stored("img-0-64", k=5, diverse=True, fetch_k=12, lambda_mult=0.0)
    params = {"k": 5, "diverse": "true", "fetch_k": 12, "lambda_mult": 0}
    stored = client.get("/api/images/img-0-64/similar", params=params)
    assert stored.status_code == 200, stored.text
    assert [hit["id"] for hit in stored.json()["hits"]] == [hit.id for hit in expected]
    plain = client.get("/api/images/img-0-64/similar", params={"k": 5}).json()["hits"]
    assert [hit["id"] for hit in plain] != [hit.id for hit in expected]  # the copies crowd the plain list
    collapsed = client.get("/api/images/img-0-64/similar", params={"k": 6, "collapse_duplicates": "true"})
    hits = collapsed.json()["hits"]
    assert len({group_of.get(hit["id"], hit["id"]) for hit in hits}) == len(hits) == 6
    png = io.BytesIO()
    smooth_picture(3).save(png, format="PNG")
    files = {"image": ("three.png", png.getvalue(), "image/png")}
    upload = client.post("/api/similar", params={"k": 6, "collapse_duplicates": "true"}, files=files)
    assert upload.status_code == 200, upload.text
    ids = [hit["id"] for hit in upload.json()["hits"]]
    assert len({group_of.get(key, key) for key in ids}) == 6 and group_of[ids[0]] == 3
    over = client.get("/api/images/img-0-64/similar", params={"diverse": "true", "fetch_k": 31})
    assert over.status_code == 422 and over.json()["error"] == "k_too_large"


def test_collapse_duplicates(app_copies: tuple[MultimodalStore, TestClient, dict[str, int]]) -> None:
    _, client, group_of = app_copies
    response = client.get("/api/search", params={"q": "a picture", "k": 10, "collapse_duplicates": "true"})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert len(hits) == 10 and len({group_of.get(hit["id"], hit["id"]) for hit in hits}) == 10
    for hit in hits:
        assert all(group_of[key] == group_of[hit["id"]] for key in hit["metadata"]["duplicates"])
    both = _ids(client, k=6, collapse_duplicates="true", diverse="true", lambda_mult=0.3)
    assert len({group_of.get(key, key) for key in both}) == 6


def test_limits_and_openapi(app_copies: tuple[MultimodalStore, TestClient, dict[str, int]]) -> None:
    _, client, _ = app_copies
    over = client.get("/api/search", params={"q": "x", "diverse": "true", "fetch_k": 31})
    assert over.status_code == 422 and over.json()["error"] == "k_too_large" and over.json()["limit"] == 30
    assert client.get("/api/search", params={"q": "x", "fetch_k": 31}).status_code == 422
    for params in ({"lambda_mult": 1.5}, {"fetch_k": 0}, {"diverse": "maybe"}, {"collapse_duplicates": "2"}):
        answer = client.get("/api/search", params={"q": "x", **params})
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"
    parameters = {
        p["name"]: p["schema"]
        for p in client.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]
    }
    fetch_k = parameters["fetch_k"]
    assert (fetch_k["type"], fetch_k["minimum"], fetch_k["maximum"]) == ("integer", 1, 30)
    assert "anyOf" not in fetch_k  # a query string cannot say null
    assert parameters["lambda_mult"]["minimum"] == 0 and parameters["lambda_mult"]["maximum"] == 1
    assert (
        parameters["diverse"]["type"] == "boolean" and parameters["collapse_duplicates"]["type"] == "boolean"
    )


def test_the_page_has_the_checkboxes(app_copies: tuple[MultimodalStore, TestClient, dict[str, int]]) -> None:
    _, client, _ = app_copies
    page = client.get("/").text
    assert 'id="diverse"' in page and 'id="collapse-duplicates"' in page
    script = client.get("/static/app.js").text
    assert "diverse" in script and "collapse_duplicates" in script
