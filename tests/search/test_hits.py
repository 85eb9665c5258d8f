"""Search hits (search/hits.py): every file holding a hit's picture, primary first, through
``paths``, ``result_metadata()`` and ``to_dict()``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.search.hits import RESULT_KEYS, SearchHit
from siglip_retriever.store.files import StoredFile
from tests.helpers import photo_like


def test_a_hit_names_every_file_of_its_picture(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    photo_like(1, (64, 48)).save(folder / "b.png")
    shutil.copy(folder / "b.png", folder / "sub" / "a.png")
    shutil.copy(folder / "b.png", folder / "c.png")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.index_folder(folder)
    store.add_images([Image.new("RGB", (32, 32), "red")])
    store.add_texts(["a red square"])
    hits = {hit.uri: hit for hit in Retriever(store, k=5).text_to_images("a picture")}
    expected = sorted(str((folder / name).resolve()) for name in ("b.png", "sub/a.png", "c.png"))
    hit = hits[expected[0]]
    assert [f.path for f in hit.paths] == expected and hit.uri == expected[0]
    assert all(isinstance(f, StoredFile) and f.size == (folder / "b.png").stat().st_size for f in hit.paths)
    assert hit.paths[0].mtime_ns == (folder / "b.png").stat().st_mtime_ns
    assert hit.result_metadata()["paths"] == expected
    assert set(RESULT_KEYS) <= set(hit.result_metadata())
    assert hit.to_dict()["paths"] == expected
    json.dumps(hit.to_dict())  # JSON-ready

    unfiled = hits[None]  # an image added as a picture, from no file
    assert unfiled.paths == [] and "paths" not in unfiled.result_metadata()
    assert unfiled.to_dict()["paths"] == []
    [text] = Retriever(store, k=1).image_to_texts(folder / "b.png")
    assert text.paths == [] and text.to_dict()["paths"] == []


def test_a_hit_of_an_older_entry_names_its_uri() -> None:
    meta = {"uri": "/p/a.jpg", "mtime_ns": 1_500_000_000_000_000_000, "file_size": 9}
    hit = SearchHit("img-1", "image", "/p/a.jpg", None, meta)
    assert hit.paths == [StoredFile("/p/a.jpg", 9, 1_500_000_000_000_000_000)]
    assert hit.paths[0].modified == 1.5e9
    assert hit.result_metadata()["paths"] == ["/p/a.jpg"]
