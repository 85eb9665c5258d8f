"""Diverse results in the web API (app/routes/search.py, app/openapi.py): ``GET /api/search`` with
``diverse``, ``fetch_k``, ``lambda_mult`` and ``collapse_duplicates`` answers the search layer's
picks, within the server's limits, as the OpenAPI document declares them, and so do the two similar
routes; and the page's checkboxes."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.app import Limits, create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.copies import smooth_picture, store_copies

BASE = "http://127.0.0.1"


@dataclass(frozen=True)
class Copies:
    """A client of the app over a store of pictures beside their copies, and the search layer over it."""

    client: TestClient
    group_of: dict[str, int]  # each copy's group (the picture it is a copy of)
    retriever: Retriever


@pytest.fixture(scope="module")
def copies(tiny_encoder: SiglipEncoder) -> Copies:
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    groups = store_copies(store)
    client = TestClient(create_app(store, limits=Limits(max_k=30)), base_url=BASE)
    group_of = {key: n for n, group in enumerate(groups) for key in group}
    return Copies(client, group_of, Retriever(store))


def _ids(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["hits"]]


def _search(client: TestClient, **params: str | float) -> list[str]:
    return _ids(client.get("/api/search", params={"q": "a picture", **params}))


def test_diverse_search_answers_the_search_layer_s_picks(copies: Copies) -> None:
    client, retriever = copies.client, copies.retriever
    expected = retriever.text_to_images("a picture", k=5, diverse=True, fetch_k=15, lambda_mult=0.0)
    assert _search(client, k=5, diverse="true", fetch_k=15, lambda_mult=0) == [hit.id for hit in expected]
    plain = _search(client, k=5)
    assert _search(client, k=5, diverse="true", lambda_mult=1) == plain
    alone = client.get("/api/search", params={"q": "a picture", "fetch_k": 15})  # as in Python: refused
    assert alone.status_code == 422 and alone.json()["message"].endswith("add diverse=True")
    small = client.get("/api/search", params={"q": "a picture", "k": 5, "diverse": "true", "fetch_k": 2})
    assert small.status_code == 422 and "fetch_k (2) must be at least k (5)" in small.json()["message"]
    default = retriever.text_to_images("a picture", k=5, diverse=True)
    assert _search(client, k=5, diverse="true") == [hit.id for hit in default]


def test_the_similar_routes_take_the_same_diversity_parameters(copies: Copies) -> None:
    client, group_of = copies.client, copies.group_of
    expected = copies.retriever.similar_to_stored("img-0-64", k=5, diverse=True, fetch_k=12, lambda_mult=0.0)
    params = {"k": 5, "diverse": "true", "fetch_k": 12, "lambda_mult": 0}
    assert _ids(client.get("/api/images/img-0-64/similar", params=params)) == [hit.id for hit in expected]
    plain = _ids(client.get("/api/images/img-0-64/similar", params={"k": 5}))
    assert plain != [hit.id for hit in expected]  # the copies crowd the plain list
    collapsed = _ids(
        client.get("/api/images/img-0-64/similar", params={"k": 6, "collapse_duplicates": "true"})
    )
    assert len({group_of.get(key, key) for key in collapsed}) == len(collapsed) == 6
    png = io.BytesIO()
    smooth_picture(3).save(png, format="PNG")
    files = {"image": ("three.png", png.getvalue(), "image/png")}
    ids = _ids(client.post("/api/similar", params={"k": 6, "collapse_duplicates": "true"}, files=files))
    assert len({group_of.get(key, key) for key in ids}) == 6 and group_of[ids[0]] == 3
    over = client.get("/api/images/img-0-64/similar", params={"diverse": "true", "fetch_k": 31})
    assert over.status_code == 422 and over.json()["error"] == "k_too_large"


def test_collapse_duplicates(copies: Copies) -> None:
    client, group_of = copies.client, copies.group_of
    response = client.get("/api/search", params={"q": "a picture", "k": 10, "collapse_duplicates": "true"})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert len(hits) == 10 and len({group_of.get(hit["id"], hit["id"]) for hit in hits}) == 10
    for hit in hits:
        assert all(group_of[key] == group_of[hit["id"]] for key in hit["metadata"]["duplicates"])
    both = _search(client, k=6, collapse_duplicates="true", diverse="true", lambda_mult=0.3)
    assert len({group_of.get(key, key) for key in both}) == 6


def test_limits_and_openapi(copies: Copies) -> None:
    client = copies.client
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


def test_the_page_has_the_checkboxes(copies: Copies) -> None:
    client = copies.client
    page = client.get("/").text
    assert 'id="diverse"' in page and 'id="collapse-duplicates"' in page
    script = client.get("/static/app.js").text
    assert "diverse" in script and "collapse_duplicates" in script
