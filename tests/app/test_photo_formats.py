"""The web app with a phone's formats: HEIC, AVIF, WebP, BMP, GIF and multi-page TIFF are served,
thumbnailed upright (EXIF orientation) and accepted as uploads."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import create_app
from siglip_retriever.demo.pictures import render
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.helpers import half_and_half, save_photo

MEDIA_TYPES = {
    "phone.heic": "image/heif",
    "web.avif": "image/avif",
    "web.webp": "image/webp",
    "old.bmp": "image/bmp",
    "anim.gif": "image/gif",
    "scan.tif": "image/tiff",
}


@pytest.fixture(scope="module")
def client_and_ids(
    tiny_encoder: SiglipEncoder, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TestClient, dict[str, str], Path]:
    folder = tmp_path_factory.mktemp("formats")
    shapes = ["circle", "square", "triangle", "star", "circle"]
    for i, name in enumerate(MEDIA_TYPES):
        if name == "phone.heic":  # a phone held on its side
            save_photo(folder / name, half_and_half(300, 200), orientation=6)
        else:  # pictures of their own, wider than tall
            picture = render(shapes[i - 1], "green", i, size=200).resize((300, 200))
            save_photo(folder / name, picture)
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="formats")
    report = store.index_folder(folder)
    assert len(report.added) == len(MEDIA_TYPES), report.failed
    ids = {Path(item.uri or "").name: item.id for item in store.get()}
    return TestClient(create_app(store), base_url="http://127.0.0.1"), ids, folder


@pytest.mark.parametrize("name", sorted(MEDIA_TYPES))
def test_each_format_is_served_and_thumbnailed(
    client_and_ids: tuple[TestClient, dict[str, str], Path], name: str
) -> None:
    client, ids, folder = client_and_ids
    original = client.get(f"/api/images/{ids[name]}")
    assert original.status_code == 200, original.text
    assert original.headers["content-type"] == MEDIA_TYPES[name]
    assert original.content == (folder / name).read_bytes()

    response = client.get(f"/api/images/{ids[name]}/thumbnail")
    assert response.status_code == 200, response.text
    thumb = Image.open(io.BytesIO(response.content))
    assert thumb.format == "JPEG"
    wide, tall = thumb.size
    if name == "phone.heic":  # shown upright: taller than wide, red (the stored left) on top
        assert tall == 256 and wide < tall
        top = thumb.getpixel((wide // 2, 10))
        assert isinstance(top, tuple) and top[0] > top[2]
    else:
        assert wide == 256 and tall < wide


@pytest.mark.parametrize("name", sorted(MEDIA_TYPES))
def test_each_format_is_accepted_as_an_upload(
    client_and_ids: tuple[TestClient, dict[str, str], Path], name: str
) -> None:
    client, ids, folder = client_and_ids
    data = (folder / name).read_bytes()
    response = client.post("/api/similar", params={"k": 1}, files={"image": (name, data, MEDIA_TYPES[name])})
    assert response.status_code == 200, response.text
    (hit,) = response.json()["hits"]
    assert hit["id"] == ids[name]
    assert hit["similarity"] == pytest.approx(1.0, abs=1e-4)
    classified = client.post(
        "/api/classify", data={"labels": "red,blue"}, files={"image": (name, data, MEDIA_TYPES[name])}
    )
    assert classified.status_code == 200, classified.text
