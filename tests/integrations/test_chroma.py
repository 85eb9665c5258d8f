"""SiglipEmbeddingFunction (integrations/chroma.py): mixed batches in order, registration, a
collection reopened in a new process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from chromadb.utils.data_loaders import ImageLoader
from chromadb.utils.embedding_functions import config_to_embedding_function, known_embedding_functions
from PIL import Image

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.loading import load_counts
from siglip_retriever.encoding.presets import PRESETS
from siglip_retriever.errors import ConfigurationError, ImageLoadError, InputTypeError
from siglip_retriever.integrations.chroma import SiglipEmbeddingFunction, SiglipImageLoader
from siglip_retriever.integrations.langchain import SiglipEmbeddings
from siglip_retriever.integrations.llama_index import SiglipEmbedding
from tests.helpers import assert_close, chroma_client, colour_pictures

COLOURS = ("red", "green", "blue")
TEXTS = ["a red circle", "un carré bleu"]


@pytest.fixture
def image_paths(tmp_path: Path) -> list[str]:
    return [str(path) for path in colour_pictures(tmp_path, COLOURS, size=(30, 40), widen=10)]


@pytest.fixture
def arrays(image_paths: list[str]) -> list[np.ndarray]:
    return [np.asarray(Image.open(path)) for path in image_paths]


@pytest.fixture
def embed(tiny_encoder: SiglipEncoder) -> SiglipEmbeddingFunction:
    return SiglipEmbeddingFunction(encoder=tiny_encoder)


def test_documents_and_images_in_one_call_in_input_order(
    embed: SiglipEmbeddingFunction, tiny_encoder: SiglipEncoder, arrays: list[np.ndarray]
) -> None:
    mixed = [TEXTS[0], arrays[0], arrays[1], TEXTS[1], arrays[2]]
    vectors = embed(mixed)
    assert len(vectors) == 5
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (32,) for v in vectors)
    texts = tiny_encoder.encode_texts(TEXTS)
    images = tiny_encoder.encode_images(arrays)
    assert_close(vectors, [texts[0], images[0], images[1], texts[1], images[2]])
    assert_close(embed(TEXTS), texts)
    assert_close(embed(arrays), images)
    assert_close(embed.embed_query([TEXTS[1], arrays[2]]), [texts[1], images[2]])


def test_config_registration_and_spaces(embed: SiglipEmbeddingFunction, tiny_siglip_dir: Path) -> None:
    assert SiglipEmbeddingFunction.name() == "siglip_retriever"
    assert known_embedding_functions["siglip_retriever"] is SiglipEmbeddingFunction
    assert embed.default_space() == "cosine"
    assert set(embed.supported_spaces()) == {"cosine", "ip", "l2"}
    assert not embed.is_legacy()
    config = embed.get_config()
    assert config == {"model": str(tiny_siglip_dir), "device": "cpu", "dtype": "float32", "batch_size": 4}
    assert json.loads(json.dumps(config)) == config
    rebuilt = config_to_embedding_function({"name": "siglip_retriever", "config": config})
    assert isinstance(rebuilt, SiglipEmbeddingFunction)
    assert rebuilt.get_config() == config
    assert cast(SiglipEmbeddingFunction, rebuilt).encoder.model is embed.encoder.model  # no second load

    assert SiglipEmbeddingFunction(tiny_siglip_dir, device="cpu").get_config()["dtype"] == "auto"
    # presets are stored by name (the demo checkpoint lives inside the package, wherever it is)
    demo = PRESETS["demo"]
    assert demo.reference == "demo"
    with pytest.raises(ConfigurationError, match="unknown"):
        SiglipEmbeddingFunction.build_from_config({"model": "demo", "colour": "red"})
    with pytest.raises(ConfigurationError, match="cannot change"):
        embed.validate_config_update(config, {"model": "other"})


def test_collection_with_image_loader_and_uris(
    embed: SiglipEmbeddingFunction,
    tiny_encoder: SiglipEncoder,
    image_paths: list[str],
    arrays: list[np.ndarray],
    tmp_path: Path,
) -> None:
    collection = chroma_client(tmp_path / "db").create_collection(
        "photos", embedding_function=embed, data_loader=ImageLoader(max_workers=1)
    )
    assert collection.configuration["hnsw"]["space"] == "cosine"
    collection.add(ids=list(COLOURS), uris=image_paths)
    collection.add(ids=["t0", "t1"], documents=TEXTS)
    stored = collection.get(ids=[*COLOURS, "t0", "t1"], include=["embeddings", "uris", "documents"])
    assert_close(stored["embeddings"][:3], tiny_encoder.encode_images(image_paths))
    assert_close(stored["embeddings"][3:], tiny_encoder.encode_texts(TEXTS))
    assert stored["uris"][:3] == image_paths

    by_text = collection.query(query_texts=["a red square"], n_results=5, include=["distances"])
    assert sorted(by_text["ids"][0]) == sorted([*COLOURS, "t0", "t1"])
    assert collection.query(query_texts=[TEXTS[1]], n_results=1)["ids"] == [["t1"]]
    assert collection.query(query_images=[arrays[1]], n_results=1)["ids"] == [["green"]]
    assert collection.query(query_uris=[image_paths[2]], n_results=1)["ids"] == [["blue"]]
    distances = collection.query(query_images=[arrays[0]], n_results=1, include=["distances"])["distances"]
    assert distances[0][0] == pytest.approx(0.0, abs=1e-5)  # cosine space: 1 - cos


def test_siglip_image_loader_reads_uris_like_the_core(
    embed: SiglipEmbeddingFunction, image_paths: list[str], arrays: list[np.ndarray], tmp_path: Path
) -> None:
    loaded = SiglipImageLoader()([image_paths[0], None])
    assert loaded[1] is None
    assert loaded[0] is not None
    np.testing.assert_array_equal(loaded[0], arrays[0])
    collection = chroma_client(tmp_path / "db").create_collection(
        "photos", embedding_function=embed, data_loader=SiglipImageLoader()
    )
    collection.add(ids=list(COLOURS), uris=image_paths)
    assert collection.query(query_uris=[image_paths[0]], n_results=1)["ids"] == [["red"]]


@pytest.mark.slow
def test_persisted_collection_reopens_in_a_new_process(
    tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder, image_paths: list[str], tmp_path: Path
) -> None:
    embed = SiglipEmbeddingFunction(tiny_siglip_dir, device="cpu", batch_size=2)
    collection = chroma_client(tmp_path / "db").create_collection(
        "photos", embedding_function=embed, data_loader=ImageLoader(max_workers=1)
    )
    collection.add(ids=list(COLOURS), uris=image_paths, metadatas=[{"colour": c} for c in COLOURS])
    collection.add(ids=["t0", "t1"], documents=TEXTS)

    script = textwrap.dedent(
        f"""
        import json, socket, sys
        import numpy as np

        def refuse(self, address):
            if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
                raise RuntimeError(f"network access to {{address!r}}")
            return real(self, address)

        real = socket.socket.connect
        socket.socket.connect = refuse

        import chromadb
        from chromadb.utils.data_loaders import ImageLoader
        from PIL import Image
        import siglip_retriever.integrations.chroma as registers  # registers the function

        client = chromadb.PersistentClient(
            path={str(tmp_path / "db")!r}, settings=chromadb.Settings(anonymized_telemetry=False)
        )
        photos = client.get_collection("photos", data_loader=ImageLoader(max_workers=1))
        function = photos.configuration["embedding_function"]
        image = np.asarray(Image.open({image_paths[1]!r}))
        out = {{
            "function": type(function).__name__,
            "config": function.get_config(),
            "space": photos.configuration["hnsw"]["space"],
            "count": photos.count(),
            "by_text": photos.query(query_texts=[{TEXTS[1]!r}], n_results=5)["ids"][0],
            "by_image": photos.query(query_images=[image], n_results=2)["ids"][0],
            "by_uri": photos.query(query_uris=[{image_paths[2]!r}], n_results=1)["ids"][0],
            "text_vector": function([{TEXTS[1]!r}])[0].tolist(),
            "image_vector": function([image])[0].tolist(),
        }}
        print(json.dumps(out))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["function"] == "SiglipEmbeddingFunction"
    assert out["config"] == {"model": str(tiny_siglip_dir), "device": "cpu", "dtype": "auto", "batch_size": 2}
    assert out["space"] == "cosine"
    assert out["count"] == 5
    assert out["by_text"][0] == "t1"
    assert sorted(out["by_text"]) == sorted([*COLOURS, "t0", "t1"])
    assert out["by_image"][0] == "green"
    assert out["by_uri"] == ["blue"]
    assert_close(out["text_vector"], tiny_encoder.encode_texts(TEXTS[1:])[0])
    assert_close(out["image_vector"], tiny_encoder.encode_images(image_paths[1:2])[0])


def test_three_adapters_with_the_same_options_load_the_model_once(
    tiny_siglip_dir: Path, tmp_path: Path
) -> None:
    # a fresh copy of the checkpoint: a path no test has loaded yet in this process
    checkpoint = Path(shutil.copytree(tiny_siglip_dir, tmp_path / "checkpoint"))
    key = (str(checkpoint.resolve()), "cpu", "float32")
    assert load_counts().get(key, 0) == 0
    options: dict[str, Any] = {"model": checkpoint, "device": "cpu", "dtype": "float32", "batch_size": 2}
    langchain = SiglipEmbeddings(**options)
    llama = SiglipEmbedding(**options)
    chroma = SiglipEmbeddingFunction(**options)
    rebuilt = SiglipEmbeddingFunction.build_from_config(chroma.get_config())
    assert load_counts()[key] == 1
    models = {id(a.encoder.model) for a in (langchain, llama, chroma, rebuilt)}
    assert len(models) == 1
    assert_close(langchain.embed_query("x"), llama.get_query_embedding("x"))
    assert_close(chroma(["x"]), [langchain.embed_query("x")])


def test_bad_input_raises_the_core_errors(
    embed: SiglipEmbeddingFunction, image_paths: list[str], tmp_path: Path
) -> None:
    with pytest.raises(InputTypeError, match="item 1 is NoneType"):
        embed(["fine", None])
    with pytest.raises(InputTypeError, match="wrap a single item"):
        embed("one string")
    with pytest.raises(InputTypeError, match="NoneType"):
        embed.embed_query([None])
    with pytest.raises(ImageLoadError, match=r"numpy array \(5, 5, 7\)"):
        embed([np.zeros((5, 5, 7), dtype=np.uint8)])

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    collection = chroma_client(tmp_path / "db").create_collection(
        "photos", embedding_function=embed, data_loader=SiglipImageLoader()
    )
    with pytest.raises(ImageLoadError, match=r"broken\.png"):
        collection.add(ids=["ok", "bad"], uris=[image_paths[0], str(broken)])
    with pytest.raises(ImageLoadError, match=r"numpy array \(5, 5, 7\)"):
        collection.add(ids=["bad"], images=[np.zeros((5, 5, 7), dtype=np.uint8)])
    with pytest.raises(ImageLoadError, match=r"broken\.png"):
        collection.query(query_uris=[str(broken)])
    # chromadb checks documents itself before any embedding function runs
    with pytest.raises(ValueError, match="Expected document to be a str"):
        collection.add(ids=["none"], documents=[None])
    assert collection.count() == 0
