"""MultimodalStore (store/store.py) on real chromadb: embedded, in memory and a real Chroma server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    InputTypeError,
    ModelMismatchError,
    ServerUnavailableError,
)
from siglip_retriever.store import content_id
from tests.helpers import free_port, png_bytes

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]


def _write_images(folder: Path, colours: list[str] = COLOURS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, colour in enumerate(colours):
        path = folder / f"{i:02d}_{colour}.png"
        image = Image.new("RGB", (48, 40), colour)
        image.putpixel((i, i), (0, 0, 0))
        image.save(path)
        paths.append(path)
    return paths


def test_add_get_count_delete_in_memory(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="crud")
    paths = _write_images(tmp_path / "imgs", COLOURS[:3])
    image_ids = store.add_images(paths, metadatas=[{"colour": c} for c in COLOURS[:3]])
    text_ids = store.add_texts(["a red square", "un carré vert"], metadatas=[{"lang": "en"}, {"lang": "fr"}])
    assert store.count() == 5
    assert store.count("image") == 3
    assert store.count("text") == 2
    assert image_ids[0] == content_id("image", paths[0].read_bytes())
    assert text_ids[1] == content_id("text", "un carré vert")

    items = store.get(ids=[image_ids[1], text_ids[1]])
    assert isinstance(items, list)
    by_id = {item.id: item for item in items}
    assert by_id[image_ids[1]].uri == str(paths[1].resolve())
    assert by_id[image_ids[1]].metadata["colour"] == "green"
    assert by_id[text_ids[1]].text == "un carré vert"
    assert by_id[text_ids[1]].kind == "text"
    assert [i.id for i in store.get(where={"lang": "fr"})] == [text_ids[1]]

    [item] = store.get(ids=[text_ids[0]], include_vectors=True)
    assert item.vector is not None and store.get(ids=[text_ids[0]])[0].vector is None
    np.testing.assert_allclose(item.vector, tiny_encoder.encode_texts(["a red square"])[0], atol=1e-6)

    store.delete(ids=[image_ids[0]])
    store.delete(where={"lang": "en"})
    assert store.count() == 3
    with pytest.raises(ConfigurationError):
        store.delete()


def test_same_content_is_stored_once(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="dedupe")
    path = _write_images(tmp_path, ["red"])[0]
    copy = tmp_path / "copy.png"
    copy.write_bytes(path.read_bytes())
    first = store.add_images([path])
    second = store.add_images([path.read_bytes()])
    third = store.add_images([copy])
    assert first == second == third
    store.add_texts(["same", "same"])
    assert store.count() == 2


def test_every_image_input_kind(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    import base64

    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="kinds")
    picture = Image.new("RGB", (30, 20), "purple")
    data = png_bytes(picture)
    ids = store.add_images(
        [picture, np.asarray(picture), data, f"data:image/png;base64,{base64.b64encode(data).decode()}"]
    )
    assert len(set(ids)) == 4  # different inputs, hashed differently...
    vectors = [item.vector for item in store.get(ids=ids, include_vectors=True)]
    for vector in vectors[1:]:  # ...but the same picture, so the same vector
        np.testing.assert_allclose(vector, vectors[0], atol=1e-5)


def test_bad_inputs(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="bad")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really")
    with pytest.raises(ImageLoadError, match=r"broken\.jpg"):
        store.add_images([broken])
    with pytest.raises(InputTypeError):
        store.add_texts("one string")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError):
        store.add_texts([None])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="reserved"):
        store.add_texts(["x"], metadatas=[{"kind": "image"}])
    with pytest.raises(ConfigurationError, match="metadatas"):
        store.add_texts(["x", "y"], metadatas=[{}])
    assert store.count() == 0


def test_writes_are_chunked_to_the_client_batch_limit(tiny_encoder: SiglipEncoder) -> None:
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection="chunks")
    limits: list[int] = []
    real_upsert = store.collection.upsert

    def upsert(**kwargs: Any) -> None:
        limits.append(len(kwargs["ids"]))
        real_upsert(**kwargs)

    store.client.get_max_batch_size = lambda: 3  # type: ignore[method-assign]
    store.collection.upsert = upsert  # type: ignore[method-assign]
    store.add_texts([f"text {i}" for i in range(10)])
    assert max(limits) == 3
    assert store.count() == 10


def test_model_mismatch_is_a_clear_error(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    from siglip_retriever.tiny import build_checkpoint

    db = tmp_path / "db"
    MultimodalStore(db, model=tiny_siglip_dir, device="cpu").add_texts(["hello"])
    other = build_checkpoint(tmp_path / "other", hidden_size=16)
    with pytest.raises(ModelMismatchError, match="was built with model") as info:
        MultimodalStore(db, model=other, device="cpu")
    assert "Open it with model=" in str(info.value)
    # no model named: the store's own model is used
    assert MultimodalStore(db, device="cpu").encoder.model_id == str(tiny_siglip_dir.resolve())


def test_store_records_model_facts(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    store = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)
    meta = store.collection.metadata
    assert meta["siglip_dim"] == 32
    assert meta["siglip_logit_scale"] == pytest.approx(10.0)
    assert meta["siglip_logit_bias"] == pytest.approx(-10.0)
    assert store.collection.configuration_json["hnsw"]["space"] == "cosine"
    assert "count=0" in repr(store)


PERSIST_SCRIPT = """
import json, sys
from siglip_retriever import MultimodalStore, Retriever
store = MultimodalStore(sys.argv[1], device="cpu")
hits = Retriever(store, k=3).text_to_images("a red square")
print(json.dumps([[h.id, round(h.similarity, 5)] for h in hits]))
"""


@pytest.mark.slow
def test_persistence_across_processes(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = MultimodalStore(db, model=tiny_siglip_dir, device="cpu")
    store.index_folder(_write_images(tmp_path / "imgs")[0].parent)
    expected = [[h.id, round(h.similarity, 5)] for h in Retriever(store, k=3).text_to_images("a red square")]
    store.close()  # an embedded store is open in one process at a time (siglip_retriever.store.locking)
    result = subprocess.run(
        [sys.executable, "-c", PERSIST_SCRIPT, str(db)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_server_mode_matches_embedded(
    chroma_server: tuple[str, int], tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    host, port = chroma_server
    folder = _write_images(tmp_path / "imgs")[0].parent
    remote = MultimodalStore.connect(host, port, encoder=tiny_encoder, collection="server_test")
    local = MultimodalStore(tmp_path / "db", encoder=tiny_encoder)
    for store in (remote, local):
        report = store.index_folder(folder)
        assert len(report.added) == len(COLOURS)
        store.add_texts(["a red square", "一个蓝色的正方形"])
    assert remote.count() == local.count() == len(COLOURS) + 2
    for query in ("a red square", "un carré bleu"):
        remote_hits = Retriever(remote, k=4).text_to_images(query)
        local_hits = Retriever(local, k=4).text_to_images(query)
        assert [h.id for h in remote_hits] == [h.id for h in local_hits]
        np.testing.assert_allclose(
            [h.probability for h in remote_hits], [h.probability for h in local_hits], rtol=1e-4
        )
    # reopening the server store without a model uses the recorded one
    again = MultimodalStore.connect(host, port, collection="server_test", device="cpu")
    assert again.count() == remote.count()
    assert "127.0.0.1" in again.location


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(ServerUnavailableError, match="chroma run"):
        MultimodalStore.connect("127.0.0.1", free_port())


def test_query_by_kind_equals_the_filtered_query(tiny_encoder: SiglipEncoder) -> None:
    """The fast path (nearest of any kind, filtered here) and the fallback give chromadb's answer."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    store.add_texts([f"caption number {i}" for i in range(60)])
    store.add_images([Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")])
    vector = tiny_encoder.encode_query("a red square")
    for kind, k in (("image", 2), ("image", 3), ("text", 5), ("text", 60)):
        expected = store.collection.query(query_embeddings=[vector], n_results=k, where={"kind": kind})
        got = store.query(vector, k=k, kind=kind)
        assert len(got) == len(expected["ids"][0])
        # the same similarities (entries with equal vectors may swap places)
        np.testing.assert_allclose(
            [similarity for _, similarity in got], [1 - d for d in expected["distances"][0]], atol=1e-5
        )
        assert all(item.kind == kind for item, _ in got)
    assert len(store.query(vector, k=100)) == 63


def test_texts_with_lone_surrogates_are_stored_with_replacement_characters(
    tiny_encoder: SiglipEncoder,
) -> None:
    # what Python makes of a file name that is not UTF-8: chromadb and SHA-256 cannot take it
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    (key,) = store.add_texts(["caf\udce9.png"])
    items = store.get([key])
    assert items[0].text == "caf\ufffd.png"
    assert store.add_texts(["caf\ufffd.png"]) == [key]  # the same text, stored once
    np.testing.assert_allclose(
        store.encoder.encode_texts(["caf\udce9.png"]), store.encoder.encode_texts(["caf\ufffd.png"])
    )
