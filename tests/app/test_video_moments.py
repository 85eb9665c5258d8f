"""Video moments in the web API (app/routes/search.py, app/routes/images.py, app/service.py): a hit
carries its span, its frame and the video's other moments, its ``file_url`` plays the moment
(``#t=start,end``), its picture and thumbnail are the frame, its file is the video with its media
type and byte ranges; on clips of the test corpus indexed with the demo model."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.app import create_app
from siglip_retriever.app.media import VIDEO_MEDIA_TYPES
from siglip_retriever.search.retriever import Retriever
from tests.videos import H264_SCENES, VP9_SCENES, Clip, Scene, scene_picture, write_shape_clip

RED_SQUARE = VP9_SCENES[2]  # shapes.webm from 6.5 s to 9.5 s; no other clip shows a red square
assert (RED_SQUARE.shape, RED_SQUARE.colour) == ("square", "red")


class Videos:
    """A WebM (VP9) and an MP4 (H.264) clip, indexed with the demo model, and a client of the app."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.webm = write_shape_clip(root / "clips" / "shapes.webm", VP9_SCENES, codec="libvpx-vp9")
        self.mp4 = write_shape_clip(root / "clips" / "shapes.mp4", H264_SCENES)
        self.store = MultimodalStore(root / "db", model="demo")
        report = self.store.index_folder(root / "clips")
        assert not report.failed, report.failed
        self.client = TestClient(create_app(self.store), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Videos]:
    found = Videos(tmp_path_factory.mktemp("api-videos"))
    yield found
    found.store.close()


def _search(videos: Videos, query: str, **params: Any) -> list[dict[str, Any]]:
    response = videos.client.get("/api/search", params={"q": query, **params})
    assert response.status_code == 200, response.text
    assert str(videos.root) not in response.text  # no path anywhere in the answer
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits


def _overlaps(hit: dict[str, Any], scene: Scene) -> bool:
    return hit["start"] < scene.end and hit["end"] > scene.start


def _moment_ids(videos: Videos, clip: Clip) -> list[str]:
    found = [
        (m["start"], i)
        for i, m in videos.store.iter_metadata({"kind": "video"})
        if m["uri"] == str(clip.path)
    ]
    return [item_id for _, item_id in sorted(found)]


def test_a_moment_hit_carries_its_span_and_the_video_s_other_moments(videos: Videos) -> None:
    hits = _search(videos, RED_SQUARE.caption, k=12)
    best = hits[0]
    assert (best["kind"], best["name"]) == ("video", "shapes.webm")
    assert _overlaps(best, RED_SQUARE), best
    assert best["start"] <= best["frame"] < best["end"]
    assert best["file_url"] == f"/api/images/{best['id']}/file#t={best['start']:g},{best['end']:g}"
    assert best["image_url"] == f"/api/images/{best['id']}"
    assert best["thumbnail_url"] == f"/api/images/{best['id']}/thumbnail"
    assert best["page"] is None
    assert "uri" not in best["metadata"] and "source" not in best["metadata"]
    # by default the video's other moments collapse into its best one, listed on it
    assert [hit["name"] for hit in hits].count("shapes.webm") == 1
    others = best["moments"]
    assert {moment["id"] for moment in others} == set(_moment_ids(videos, videos.webm)) - {best["id"]}
    for moment in others:
        assert set(moment) == {"id", "start", "end", "probability", "similarity"}
        assert moment["probability"] <= best["probability"]
    # the same hits as the search layer's, in the same order
    expected = Retriever(videos.store, k=12).search_text(RED_SQUARE.caption)
    assert [hit["id"] for hit in hits] == [hit.id for hit in expected]
    assert [hit["moments"] for hit in hits] == [hit.moments for hit in expected]


def test_all_moments_lists_every_moment_as_its_own_hit(videos: Videos) -> None:
    hits = _search(videos, RED_SQUARE.caption, k=50, all_moments="true")
    webm = [hit for hit in hits if hit["name"] == "shapes.webm"]
    assert sorted(hit["id"] for hit in webm) == sorted(_moment_ids(videos, videos.webm))
    assert all(hit["moments"] == [] for hit in hits)
    assert all(hit["file_url"].endswith(f"#t={hit['start']:g},{hit['end']:g}") for hit in hits)


def test_pictures_and_texts_have_no_span(tmp_path: Path) -> None:
    store = MultimodalStore.in_memory(model="demo")
    scene_picture(RED_SQUARE, (96, 96)).save(tmp_path / "square.png")
    store.index_folder(tmp_path)
    (hit,) = (
        TestClient(create_app(store), base_url="http://127.0.0.1").get("/api/search?q=x&k=1").json()["hits"]
    )
    assert (hit["kind"], hit["start"], hit["end"], hit["frame"], hit["moments"]) == (
        "image",
        None,
        None,
        None,
        [],
    )
    assert hit["file_url"] == f"/api/images/{hit['id']}/file"


def test_a_moment_s_picture_and_thumbnail_are_its_frame(videos: Videos) -> None:
    best = _search(videos, RED_SQUARE.caption, k=1)[0]
    picture = videos.client.get(best["image_url"])
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"] == "image/png"
    frame = Image.open(io.BytesIO(picture.content)).convert("RGB")
    assert frame.size == videos.webm.size
    pixels = np.asarray(frame, dtype=np.int16)
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert red.mean() > 0.05, red.mean()  # the red square
    thumb = videos.client.get(best["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert (
        videos.client.get(best["thumbnail_url"], headers={"if-none-match": thumb.headers["etag"]}).status_code
        == 304
    )
    # each moment of one video has a picture and thumbnail of its own
    tags = {
        videos.client.get(f"/api/images/{i}/thumbnail").headers["etag"]
        for i in _moment_ids(videos, videos.webm)
    }
    assert len(tags) == len(_moment_ids(videos, videos.webm))


@pytest.mark.parametrize(("clip", "media_type"), [("webm", "video/webm"), ("mp4", "video/mp4")])
def test_a_moment_s_file_is_the_video_served_in_byte_ranges(
    videos: Videos, clip: str, media_type: str
) -> None:
    video: Clip = getattr(videos, clip)
    data = video.path.read_bytes()
    url = f"/api/images/{_moment_ids(videos, video)[-1]}/file"
    whole = videos.client.get(url)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == media_type
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == data
    middle = len(data) // 3
    part = videos.client.get(url, headers={"range": f"bytes={middle}-{middle + 999}"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes {middle}-{middle + 999}/{len(data)}"
    assert part.headers["content-type"] == media_type
    assert part.content == data[middle : middle + 1000]
    tail = videos.client.get(url, headers={"range": "bytes=-100"})
    assert (tail.status_code, tail.content) == (206, data[-100:])
    past = videos.client.get(url, headers={"range": f"bytes={len(data)}-"})
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{len(data)}")


def test_video_media_types_cover_every_indexed_extension() -> None:
    from siglip_retriever.store.scanning import VIDEO_EXTENSIONS

    assert set(VIDEO_MEDIA_TYPES) == set(VIDEO_EXTENSIONS)
    assert all(media_type.startswith("video/") for media_type in VIDEO_MEDIA_TYPES.values())


def test_a_still_of_a_scene_finds_its_moment(videos: Videos) -> None:
    still = io.BytesIO()
    scene_picture(H264_SCENES[1], (320, 240), seed=7).save(still, format="PNG")
    response = videos.client.post(
        "/api/similar", files={"image": ("still.png", still.getvalue(), "image/png")}
    )
    assert response.status_code == 200, response.text
    best = response.json()["hits"][0]
    assert best["name"] == "shapes.mp4" and _overlaps(best, H264_SCENES[1]), best


def test_similar_to_a_moment(videos: Videos) -> None:
    best = _search(videos, RED_SQUARE.caption, k=1)[0]
    response = videos.client.get(f"/api/images/{best['id']}/similar", params={"k": 5, "all_moments": "true"})
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert best["id"] not in [hit["id"] for hit in hits]
    assert all(hit["kind"] == "video" for hit in hits)


def test_info_counts_the_video_moments(videos: Videos) -> None:
    info = videos.client.get("/api/info").json()
    moments = len(_moment_ids(videos, videos.webm)) + len(_moment_ids(videos, videos.mp4))
    assert info["video_moments"] == info["images"] == moments


def test_the_openapi_document_describes_moments(videos: Videos) -> None:
    schemas = videos.client.get("/openapi.json").json()["components"]["schemas"]
    hit = schemas["Hit"]["properties"]
    assert {"start", "end", "frame", "moments"} <= set(hit)
    assert set(schemas["Moment"]["properties"]) == {"id", "start", "end", "probability", "similarity"}
    search = videos.client.get("/openapi.json").json()["paths"]["/api/search"]["get"]
    assert "all_moments" in [parameter["name"] for parameter in search["parameters"]]
