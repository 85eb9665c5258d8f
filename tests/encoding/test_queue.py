"""EncodeQueue: concurrent callers on real threads share forward passes of a real encoder, and each
keeps its own result, error and timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.preparing import PreparedImage
from siglip_retriever.encoding.queue import EncodeQueue
from siglip_retriever.errors import (
    ConfigurationError,
    EncodeQueueError,
    EncodeTimeoutError,
    ImageLoadError,
    InputTypeError,
)

TEXTS = [
    "a red circle",
    "un carré bleu sur fond blanc",
    "ein gelber Stern",
    "赤い丸",
    "",
    "a photo of a very long sentence that goes on " * 8,
    "🐱 cat",
    "x",
    "una estrella amarilla en el cielo",
    "دائرة حمراء",
    "black and white stripes",
    "pembe bir kare",
]
COLOURS = ["red", "teal", "navy", "orange", "white", "black", "pink", "olive"]
SIZES = [(40, 30), (17, 64), (224, 224), (300, 120), (8, 8), (64, 48), (33, 99), (128, 96)]


class GatedEncoder(SiglipEncoder):
    """A real encoder whose forward passes wait until ``gate`` is set: the queue's thread can be
    held busy while other requests arrive, so that what gathers is known exactly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.started = threading.Event()

    def encode_texts(self, texts: Sequence[str], **kwargs: Any) -> Any:
        self.started.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return super().encode_texts(texts, **kwargs)


@pytest.fixture(scope="module")
def demo_encoder() -> SiglipEncoder:
    return SiglipEncoder("demo", device="cpu")


@pytest.fixture
def gated(tiny_siglip_dir: Path) -> GatedEncoder:
    return GatedEncoder(tiny_siglip_dir, device="cpu", batch_size=4)


@pytest.fixture
def queue(tiny_encoder: SiglipEncoder) -> Iterator[EncodeQueue]:
    with EncodeQueue(tiny_encoder, max_wait_ms=100) as queue:
        yield queue


def concurrently(work: Callable[[Any], Any], inputs: Sequence[Any]) -> list[Future[Any]]:
    """``work(x)`` for each input, each on its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(inputs))

    def call(x: Any) -> Any:
        barrier.wait()
        return work(x)

    with ThreadPoolExecutor(len(inputs)) as pool:
        futures = [pool.submit(call, x) for x in inputs]
    return futures


def wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def pictures() -> list[Image.Image]:
    return [Image.new("RGB", size, colour) for size, colour in zip(SIZES, COLOURS, strict=True)]


# -- shared forward passes, same vectors -------------------------------------------------------------


@pytest.mark.parametrize("model", ["tiny", "demo"])
def test_concurrent_texts_share_forward_passes_and_get_their_unbatched_vectors(
    model: str, tiny_encoder: SiglipEncoder, demo_encoder: SiglipEncoder
) -> None:
    encoder = tiny_encoder if model == "tiny" else demo_encoder
    with EncodeQueue(encoder, max_wait_ms=100) as queue:
        futures = concurrently(lambda text: queue.encode_texts([text]), TEXTS)
        assert queue.requests == len(TEXTS)
        assert queue.forward_passes < queue.requests
        assert queue.items == len(TEXTS)
    for text, future in zip(TEXTS, futures, strict=True):
        alone = encoder.encode_texts([text])
        np.testing.assert_allclose(future.result(), alone, atol=1e-5)


@pytest.mark.parametrize("model", ["tiny", "demo"])
def test_concurrent_images_share_forward_passes_and_get_their_unbatched_vectors(
    model: str, tiny_encoder: SiglipEncoder, demo_encoder: SiglipEncoder
) -> None:
    encoder = tiny_encoder if model == "tiny" else demo_encoder
    images = pictures()
    prepared = [encoder.prepare_image(image) for image in images]
    with EncodeQueue(encoder, max_wait_ms=100) as queue:
        futures = concurrently(lambda image: queue.encode_images([image]), prepared)
        assert queue.forward_passes < queue.requests == len(images)
    for image, future in zip(images, futures, strict=True):
        np.testing.assert_allclose(future.result(), encoder.encode_images([image]), atol=1e-5)


@pytest.mark.parametrize("family", ["siglip2", "clip"])
def test_other_families_batch_to_the_same_vectors(family: str, request: pytest.FixtureRequest) -> None:
    """SigLIP 2 (variable resolution) and CLIP (texts padded to the longest) too."""
    encoder = SiglipEncoder(request.getfixturevalue(f"tiny_{family}_dir"), device="cpu")
    with EncodeQueue(encoder, max_wait_ms=100) as queue:
        texts = concurrently(lambda text: queue.encode_texts([text]), TEXTS[:8])
        images = concurrently(lambda image: queue.encode_images([image]), pictures())
        assert queue.forward_passes < queue.requests == 16
    for text, future in zip(TEXTS, texts, strict=False):
        np.testing.assert_allclose(future.result(), encoder.encode_texts([text]), atol=1e-5)
    for image, future in zip(pictures(), images, strict=True):
        np.testing.assert_allclose(future.result(), encoder.encode_images([image]), atol=1e-5)


def test_requests_that_gather_while_the_model_is_busy_run_in_one_pass(gated: GatedEncoder) -> None:
    with EncodeQueue(gated, max_wait_ms=0) as queue, ThreadPoolExecutor(9) as pool:
        first = pool.submit(queue.encode_texts, ["first"])
        assert gated.started.wait(30)
        later = [pool.submit(queue.encode_texts, [text]) for text in TEXTS[:8]]
        wait_until(lambda: queue.requests == 9)
        gated.gate.set()
        results = [future.result(30) for future in later]
        first.result(30)
        assert queue.forward_passes == 2  # the first alone, then the eight that waited behind it
    expected = SiglipEncoder(gated.model_id, device="cpu").encode_texts(TEXTS[:8])
    np.testing.assert_allclose(np.concatenate(results), expected, atol=1e-5)


def test_max_batch_bounds_a_pass_and_one_means_one_request_at_a_time(gated: GatedEncoder) -> None:
    for max_batch, passes in ((4, 1 + 3), (1, 1 + 10)):
        gated.gate.clear()
        gated.started.clear()
        with EncodeQueue(gated, max_batch=max_batch, max_wait_ms=0) as queue, ThreadPoolExecutor(11) as pool:
            pool.submit(queue.encode_texts, ["first"])
            assert gated.started.wait(30)
            later = [pool.submit(queue.encode_texts, [f"text {n}"]) for n in range(10)]
            wait_until(lambda q=queue: q.requests == 11)
            gated.gate.set()
            assert all(future.result(30).shape == (1, 32) for future in later)
            assert queue.forward_passes == passes, max_batch


def test_a_large_request_goes_in_parts_and_lets_others_run_between_them(gated: GatedEncoder) -> None:
    done: list[str] = []

    def encode(name: str, texts: list[str]) -> Any:
        vectors = queue.encode_texts(texts, timeout=30)
        done.append(name)
        return vectors

    with EncodeQueue(gated, max_batch=4, max_wait_ms=0) as queue, ThreadPoolExecutor(2) as pool:
        large = pool.submit(encode, "large", TEXTS[:8])
        assert gated.started.wait(30)  # its first part holds the model
        small = pool.submit(encode, "small", ["a search"])
        wait_until(lambda: queue.requests == 2)
        gated.gate.set()
        vectors = large.result(30)
        small.result(30)
        assert done == ["small", "large"]
        assert (queue.requests, queue.forward_passes) == (3, 3)  # part, the search, part
    np.testing.assert_allclose(vectors, gated.encode_texts(TEXTS[:8]), atol=1e-5)


def test_requests_for_different_encoders_never_share_a_pass(
    tiny_encoder: SiglipEncoder, demo_encoder: SiglipEncoder
) -> None:
    """A queue given a function follows the encoder it returns (a store whose model is swapped)."""
    current = [tiny_encoder]
    with EncodeQueue(lambda: current[0], max_wait_ms=0) as queue:
        before = queue.encode_query("un chat")
        current[0] = demo_encoder
        after = queue.encode_query("un chat")
    assert before.shape == (32,)
    np.testing.assert_allclose(after, demo_encoder.encode_texts(["un chat"])[0], atol=1e-5)


def test_async_callers_batch_too(tiny_encoder: SiglipEncoder) -> None:
    images = pictures()

    async def main(queue: EncodeQueue) -> list[Any]:
        texts = [queue.aencode_texts([text]) for text in TEXTS]
        both = [queue.aencode_images([image]) for image in images]  # decoded in a thread
        return await asyncio.gather(*texts, *both)

    with EncodeQueue(tiny_encoder, max_wait_ms=50) as queue:
        results = asyncio.run(main(queue))
        assert queue.forward_passes < queue.requests == len(TEXTS) + len(images)
    np.testing.assert_allclose(
        np.concatenate(results[: len(TEXTS)]), tiny_encoder.encode_texts(TEXTS), atol=1e-5
    )
    np.testing.assert_allclose(
        np.concatenate(results[len(TEXTS) :]), tiny_encoder.encode_images(images), atol=1e-5
    )


def test_a_repeated_query_comes_from_the_encoders_cache(queue: EncodeQueue) -> None:
    first = queue.encode_query("a cached query for the queue")
    again = queue.encode_query("a cached query for the queue")
    assert again is first
    assert queue.requests == 1
    assert queue.encode_texts([]).shape == (0, 32) and queue.requests == 1


# -- each request keeps its own error and timeout ------------------------------------------------------


def test_an_unreadable_picture_fails_only_its_own_request(queue: EncodeQueue) -> None:
    inputs: list[Any] = [
        Image.new("RGB", (20, 20), "red"),
        b"not a picture",
        Image.new("RGB", (9, 9), "blue"),
    ]
    futures = concurrently(lambda image: queue.encode_images([image]), inputs)
    assert isinstance(futures[1].exception(), ImageLoadError)
    assert futures[0].result().shape == futures[2].result().shape == (1, 32)
    assert queue.requests == 2  # the unreadable one was never queued


def test_a_bad_text_input_is_refused_before_it_is_queued(queue: EncodeQueue) -> None:
    with pytest.raises(InputTypeError):
        queue.encode_texts("one string, not a list")
    with pytest.raises(InputTypeError):
        queue.encode_texts(["fine", None])  # type: ignore[list-item]
    assert queue.requests == 0


def test_an_item_that_fails_in_the_forward_pass_fails_only_its_request(gated: GatedEncoder) -> None:
    good = [gated.prepare_image(image) for image in pictures()[:5]]
    broken = PreparedImage(good[0].model_id, {"pixel_values": np.zeros((1, 3, 5, 5), np.float32)}, 5, 5)
    inputs = [*good[:2], broken, *good[2:]]
    with EncodeQueue(gated, max_wait_ms=0) as queue, ThreadPoolExecutor(7) as pool:
        pool.submit(queue.encode_texts, ["holds the model while the pictures gather"])
        assert gated.started.wait(30)
        futures = [pool.submit(queue.encode_images, [image]) for image in inputs]
        wait_until(lambda: queue.requests == 7)
        gated.gate.set()
        assert isinstance(futures[2].exception(30), RuntimeError)  # torch's, for a 5x5 input
        results = [future.result(30) for future in [*futures[:2], *futures[3:]]]
        assert queue.forward_passes == 1 + 1 + 6  # the text; the six pictures together, failing; each alone
    for image, result in zip(good, results, strict=True):
        np.testing.assert_allclose(result, gated.encode_images([image]), atol=1e-5)


def test_a_request_still_queued_past_its_timeout_is_dropped_and_the_others_go_on(gated: GatedEncoder) -> None:
    with EncodeQueue(gated, max_wait_ms=0) as queue, ThreadPoolExecutor(1) as pool:
        first = pool.submit(queue.encode_texts, ["first"], timeout=0.1)  # its forward pass begins at once
        assert gated.started.wait(30)
        start = time.perf_counter()
        with pytest.raises(EncodeTimeoutError, match=r"within 0\.2 s: the model is busy"):
            queue.encode_texts(["too slow"], timeout=0.2)
        assert 0.2 <= time.perf_counter() - start < 5
        with pytest.raises(EncodeTimeoutError):
            asyncio.run(queue.aencode_texts(["too slow as well"], timeout=0.05))
        gated.gate.set()
        assert first.result(30).shape == (1, 32)  # past its timeout, but its pass had begun: its rows
        assert queue.encode_texts(["after"], timeout=30).shape == (1, 32)
        assert queue.requests == 4
        assert queue.items == 2  # the two that timed out were never encoded


def test_close_finishes_what_is_queued_and_refuses_more(gated: GatedEncoder) -> None:
    queue = EncodeQueue(gated, max_wait_ms=0)
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(queue.encode_texts, ["running"])
        assert gated.started.wait(30)
        queued = pool.submit(queue.encode_texts, ["queued"])
        wait_until(lambda: queue.requests == 2)
        queue.close(timeout=0)
        assert queue.closed
        with pytest.raises(EncodeQueueError, match="closed"):
            queue.encode_texts(["refused"])
        gated.gate.set()
        assert running.result(30).shape == queued.result(30).shape == (1, 32)
    queue.close()  # twice: harmless, and the thread has ended
    assert queue.items == 2


@pytest.mark.parametrize(("option", "value"), [("max_batch", 0), ("max_batch", 2.5), ("max_wait_ms", -1)])
def test_bad_options_are_refused(tiny_encoder: SiglipEncoder, option: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=option):
        EncodeQueue(tiny_encoder, **{option: value})
