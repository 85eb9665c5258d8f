"""The duplicates route (app/routes/duplicates.py) and the page's Duplicates tab, through FastAPI's
TestClient: groups with names and thumbnails (no paths), thresholds, errors and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from siglip_retriever import MultimodalStore
from siglip_retriever.app import create_app
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import photo_like, photo_with_copies

BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def client(tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A store of a photo, a smaller copy, the same bytes in another folder, and a distinct photo."""
    root = photo_with_copies(tmp_path_factory.mktemp("duplicates-app"), 5, small_copy="beach-small.png")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(root)
    return TestClient(create_app(store), base_url=BASE)


def test_duplicates_lists_groups_with_names_and_thumbnails(client: TestClient) -> None:
    response = client.get("/api/duplicates")
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["max_bits"], data["similar"], data["checked"], data["unhashed"]) == (12, None, 3, 0)
    assert data["message"] is None and data["total_groups"] == 1
    [group] = data["groups"]
    assert group["reasons"] == ["identical", "picture"]
    names = [item["name"] for item in group["files"]]
    assert sorted(names) == ["IMG_0005.jpg", "beach-small.png", "beach.jpg"]
    assert names == ["beach.jpg", "IMG_0005.jpg", "beach-small.png"]  # largest, then oldest
    assert [item["keep"] for item in group["files"]] == [True, False, False]
    assert group["reclaimable_bytes"] == sum(item["size"] for item in group["files"][1:])
    assert "path" not in group["files"][0] and "/" not in "".join(names)
    thumbnail = client.get(group["files"][0]["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    assert (
        client.get("/api/duplicates", params={"max_bits": 0}).json()["groups"][0]["reasons"][0] == "identical"
    )
    widened = client.get("/api/duplicates", params={"similar": 0.999}).json()
    assert widened["similar"] == 0.999
    assert widened["groups"][0]["files"][0]["similarity"] == pytest.approx(1.0, abs=1e-4)


def test_limit_bounds_the_groups_listed(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    for n in range(3):  # three pictures, each stored twice under other names
        photo_like(20 + n).save(tmp_path / f"p{n}.png")
        (tmp_path / f"copy{n}.png").write_bytes((tmp_path / f"p{n}.png").read_bytes())
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(tmp_path)
    client = TestClient(create_app(store), base_url=BASE)
    every = client.get("/api/duplicates").json()
    assert every["total_groups"] == len(every["groups"]) == 3
    two = client.get("/api/duplicates", params={"limit": 2}).json()
    assert two["total_groups"] == 3 and two["groups"] == every["groups"][:2]  # most bytes first
    assert client.get("/api/duplicates", params={"limit": 1001}).status_code == 422


@pytest.mark.parametrize(
    "params", [{"max_bits": 21}, {"max_bits": -1}, {"max_bits": "many"}, {"similar": 1.5}, {"similar": "nan"}]
)
def test_thresholds_out_of_range_are_422(client: TestClient, params: dict[str, object]) -> None:
    response = client.get("/api/duplicates", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"


def test_openapi_declares_the_route_its_limits_and_errors(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/duplicates"]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert (parameters["max_bits"]["minimum"], parameters["max_bits"]["maximum"]) == (0, 20)
    assert parameters["max_bits"]["default"] == 12
    assert (parameters["similar"]["minimum"], parameters["similar"]["maximum"]) == (-1, 1)
    limit = parameters["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 1000, 100)
    assert {"200", "400", "405", "408", "413", "422", "503"} <= set(operation["responses"])


def test_the_page_has_a_duplicates_tab(client: TestClient) -> None:
    page = client.get("/").text
    assert 'id="tab-duplicates"' in page and 'id="panel-duplicates"' in page
    script = client.get("/static/app.js").text
    assert "api/duplicates" in script
