"""Concurrent requests to a real server on 127.0.0.1 share forward passes of the model (the app's
:class:`~siglip_retriever.encoding.queue.EncodeQueue`), and answer as they would alone."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from siglip_retriever import MultimodalStore, Retriever, ZeroShotClassifier
from siglip_retriever.app import BackgroundServer, Limits, create_app
from siglip_retriever.app.errors import ApiError
from siglip_retriever.app.service import SearchService
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.search.options import WEB_DEFAULTS
from tests.encoding.test_queue import GatedEncoder, wait_until
from tests.helpers import colour_pictures

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "black", "white")


@pytest.fixture(scope="module")
def store(tiny_siglip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> MultimodalStore:
    """Its own encoder, so that no other test's queries are in its query cache."""
    folder = tmp_path_factory.mktemp("batching") / "photos"
    colour_pictures(folder, COLOURS, widen=3)
    store = MultimodalStore.in_memory(encoder=SiglipEncoder(tiny_siglip_dir, device="cpu"))
    store.index_folder(folder)
    return store


def at_once(
    send: Callable[[httpx.Client, Any], httpx.Response], inputs: Sequence[Any], url: str
) -> list[Any]:
    """``send(client, x)`` for each input from its own thread and connection, released together;
    each answer's JSON body (after checking it is a 200)."""
    barrier = threading.Barrier(len(inputs))

    def call(x: Any) -> Any:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            answer = send(client, x)
        assert answer.status_code == 200, answer.text
        return answer.json()

    with ThreadPoolExecutor(len(inputs)) as pool:
        return list(pool.map(call, inputs))


def png(colour: str, size: tuple[int, int] = (30, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_concurrent_text_searches_share_forward_passes_and_find_what_they_find_alone(
    store: MultimodalStore,
) -> None:
    app = create_app(store, limits=Limits(batch_wait_ms=200))
    queries = [f"a {colour} square, batched" for colour in COLOURS] + [f"un carré {c}" for c in COLOURS]
    with BackgroundServer(app) as server:
        bodies = at_once(
            lambda client, q: client.get("/api/search", params={"q": q, "k": 5}), queries, server.url
        )
    queue = app.state.service.queue
    assert queue.requests == len(queries)
    assert queue.forward_passes < queue.requests  # batched
    alone = Retriever(store, **WEB_DEFAULTS.as_kwargs())
    for query, body in zip(queries, bodies, strict=True):
        vector = store.encoder.encode_texts([query])[0]  # unbatched, not from the query cache
        expected = alone.by_vector(vector, query_kind="text", k=5)
        assert [hit["id"] for hit in body["hits"]] == [hit.id for hit in expected]
        np.testing.assert_allclose(
            [hit["similarity"] for hit in body["hits"]], [hit.similarity for hit in expected], atol=1e-5
        )
        np.testing.assert_allclose(
            [hit["probability"] for hit in body["hits"]], [hit.probability for hit in expected], atol=1e-5
        )


def test_concurrent_uploads_for_similar_and_classify_share_forward_passes(store: MultimodalStore) -> None:
    app = create_app(store, limits=Limits(batch_wait_ms=300))
    colours = COLOURS[:6]
    labels = ["red", "green", "blue"]

    def similar(client: httpx.Client, colour: str) -> httpx.Response:
        return client.post("/api/similar", params={"k": 3}, files={"image": (f"{colour}.png", png(colour))})

    def classify(client: httpx.Client, colour: str) -> httpx.Response:
        files = {"image": (f"{colour}.png", png(colour))}
        return client.post("/api/classify", data={"labels": labels}, files=files)

    with BackgroundServer(app) as server:
        found = at_once(similar, colours, server.url)
        classified = at_once(classify, colours, server.url)
    queue = app.state.service.queue
    assert queue.requests == 2 * len(colours)
    assert queue.forward_passes < queue.requests
    classifier = ZeroShotClassifier(labels, encoder=store.encoder)
    for colour, body, answer in zip(colours, found, classified, strict=True):
        picture = Image.open(io.BytesIO(png(colour)))
        vector = store.encoder.encode_images([picture])[0]
        expected = Retriever(store).by_vector(vector, query_kind="image", k=3)
        assert [hit["id"] for hit in body["hits"]] == [hit.id for hit in expected]
        np.testing.assert_allclose(
            [hit["similarity"] for hit in body["hits"]], [hit.similarity for hit in expected], atol=1e-5
        )
        probabilities = classifier.classify([picture])[0].probabilities
        got = {row["label"]: row["probability"] for row in answer["labels"]}
        assert got == pytest.approx(probabilities, abs=1e-5)


def test_max_batch_1_encodes_one_request_at_a_time(store: MultimodalStore) -> None:
    """The old behaviour, one request after the other through the model, is one setting away."""
    app = create_app(store, limits=Limits(max_batch=1, batch_wait_ms=200))
    queries = [f"one {colour} circle at a time" for colour in COLOURS]
    with BackgroundServer(app) as server:
        bodies = at_once(
            lambda client, q: client.get("/api/search", params={"q": q, "k": 2}), queries, server.url
        )
    queue = app.state.service.queue
    assert queue.forward_passes == queue.requests == len(queries)
    assert all(len(body["hits"]) == 2 for body in bodies)


def test_the_services_encode_methods_give_the_encoders_vectors(store: MultimodalStore) -> None:
    service = SearchService(store, Limits())
    texts = ["a cat", "un chien", ""]
    np.testing.assert_allclose(service.encode_texts(texts), store.encoder.encode_texts(texts), atol=1e-5)
    prepared = [store.encoder.prepare_image(Image.new("RGB", (20, 20), c)) for c in COLOURS[:3]]
    np.testing.assert_allclose(
        service.encode_images(prepared), store.encoder.encode_images(prepared), atol=1e-5
    )
    assert service.encode_texts([]).shape == (0, store.encoder.dim)


def test_a_request_that_cannot_reach_the_model_in_time_gets_503_busy(tiny_siglip_dir: Path) -> None:
    encoder = GatedEncoder(tiny_siglip_dir, device="cpu")
    store = MultimodalStore.in_memory(encoder=encoder)
    store.add_images([Image.new("RGB", (20, 20), "red")])
    app = create_app(store, limits=Limits(busy_wait_seconds=1))
    with BackgroundServer(app) as server, ThreadPoolExecutor(1) as pool:
        held = pool.submit(httpx.get, server.url + "api/search", params={"q": "holds the model"}, timeout=60)
        assert encoder.started.wait(30)
        wait_until(lambda: app.state.service.queue.requests == 1)
        busy = httpx.get(server.url + "api/search", params={"q": "waits too long"}, timeout=60)
        encoder.gate.set()
        assert held.result(60).status_code == 200
    assert busy.status_code == 503
    assert busy.json()["error"] == "busy"
    assert busy.headers["retry-after"]


def test_the_services_own_callers_get_503_busy_too(tiny_siglip_dir: Path) -> None:
    """What the embeddings route gets from ``SearchService.encode_texts`` when the model stays busy."""
    encoder = GatedEncoder(tiny_siglip_dir, device="cpu")
    service = SearchService(MultimodalStore.in_memory(encoder=encoder), Limits(busy_wait_seconds=1))
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(service.encode_texts, ["holds the model"])
        assert encoder.started.wait(30)
        with pytest.raises(ApiError) as caught:
            service.encode_texts(["waits too long"])
        encoder.gate.set()
        assert held.result(30).shape == (1, encoder.dim)
    assert (caught.value.status, caught.value.code) == (503, "busy")
    assert "Retry-After" in caught.value.headers
