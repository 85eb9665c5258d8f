"""The mechanics behind the speed: prefetching decode threads, prepared images, int8, the query cache.

No timing here (benchmarks/run.py measures speed); these tests check that the fast paths give the
same answers as the plain ones.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.encoding.encoder import PreparedImage, SiglipEncoder
from siglip_retriever.encoding.loading import load_counts
from siglip_retriever.errors import ConfigurationError, ImageLoadError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _pictures(count: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    sizes = [(32, 32), (64, 48), (17, 90), (300, 200), (120, 80)]
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % len(sizes)] for i in range(count))
    ]


def _mixed_inputs(tmp_path: Path) -> list[Any]:
    """Paths, bytes, PIL images and arrays, JPEG and PNG, 11 in all."""
    items: list[Any] = []
    for i, picture in enumerate(_pictures(11, seed=1)):
        kind = i % 4
        if kind == 0:
            path = tmp_path / f"p{i}.jpg"
            picture.save(path, format="JPEG", quality=90)
            items.append(path)
        elif kind == 1:
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            items.append(buffer.getvalue())
        elif kind == 2:
            items.append(picture)
        else:
            items.append(np.asarray(picture))
    return items


def test_prefetch_gives_the_same_vectors_in_the_same_order(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    items = _mixed_inputs(tmp_path)
    serial = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=3, num_workers=0)
    threaded = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=3, num_workers=3)
    one_by_one = np.stack([serial.encode_images([item])[0] for item in items])
    np.testing.assert_allclose(threaded.encode_images(items), serial.encode_images(items), atol=1e-6)
    np.testing.assert_allclose(threaded.encode_images(items), one_by_one, atol=1e-5)
    # any subset gives the same vectors as the whole list
    return_order = [threaded.encode_images(items[i : i + 1])[0] for i in (4, 0, 7)]
    np.testing.assert_allclose(np.stack(return_order), threaded.encode_images(items)[[4, 0, 7]], atol=1e-5)


def test_prefetch_on_siglip2(tiny_siglip2_dir: Path, tmp_path: Path) -> None:
    items = _mixed_inputs(tmp_path)
    serial = SiglipEncoder(tiny_siglip2_dir, device="cpu", batch_size=4, num_workers=0)
    threaded = SiglipEncoder(tiny_siglip2_dir, device="cpu", batch_size=4, num_workers=2)
    np.testing.assert_allclose(threaded.encode_images(items), serial.encode_images(items), atol=1e-6)


def test_prepared_images_are_encoded_like_their_sources(tiny_encoder: SiglipEncoder, tmp_path: Path) -> None:
    items = _mixed_inputs(tmp_path)
    prepared = [tiny_encoder.prepare_image(item) for item in items]
    assert all(isinstance(p, PreparedImage) for p in prepared)
    assert prepared[2].width == items[2].width and prepared[2].height == items[2].height
    assert set(prepared[0].inputs) == {"pixel_values"}
    assert prepared[0].inputs["pixel_values"].shape == (1, 3, 32, 32)
    mixed = [prepared[i] if i % 2 else item for i, item in enumerate(items)]
    np.testing.assert_allclose(
        tiny_encoder.encode_images(mixed), tiny_encoder.encode_images(items), atol=1e-6
    )
    assert tiny_encoder.prepare_image(prepared[0]) is prepared[0]


def test_prepared_for_another_model_is_refused(tiny_encoder: SiglipEncoder, tiny_siglip2_dir: Path) -> None:
    other = SiglipEncoder(tiny_siglip2_dir, device="cpu")
    prepared = other.prepare_image(_pictures(1)[0])
    with pytest.raises(ConfigurationError, match="prepared for model"):
        tiny_encoder.encode_images([prepared])


@pytest.mark.parametrize("workers", [0, 2])
def test_first_failure_in_order_is_raised(tiny_siglip_dir: Path, tmp_path: Path, workers: int) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=2, num_workers=workers)
    first, second = tmp_path / "first-bad.jpg", tmp_path / "second-bad.png"
    first.write_bytes(b"not a jpeg")
    second.write_bytes(b"not a png")
    items: list[Any] = [*_pictures(3), first, *_pictures(2), second]
    with pytest.raises(ImageLoadError, match=r"first-bad\.jpg"):
        encoder.encode_images(items)
    # the pool is still usable afterwards
    assert encoder.encode_images(_pictures(5)).shape == (5, encoder.dim)


def test_worker_threads_run_below_the_model(tiny_siglip_dir: Path) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=2)

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    worker = encoder.submit(niceness).result()
    if sys.platform.startswith("linux"):
        assert worker > niceness()
    else:
        assert worker >= niceness()
    inline = SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=0)
    assert inline.submit(niceness).result() == niceness()
    with pytest.raises(ConfigurationError, match="num_workers"):
        SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=-1)


def _photo_folder(root: Path) -> Path:
    root.mkdir()
    for i, picture in enumerate(_pictures(13, seed=2)):
        picture.save(root / f"img{i:02d}.jpg", format="JPEG", quality=90)
    # the same picture under another name, in a later batch: a duplicate either way
    (root / "zz-copy-of-img01.jpg").write_bytes((root / "img01.jpg").read_bytes())
    (root / "img05-broken.jpg").write_bytes(b"broken")
    (root / "img09-empty.png").write_bytes(b"")
    return root


def _outcome(report: Any) -> dict[str, Any]:
    return {
        "added": sorted((Path(f.path).name, f.id, f.status, f.detail) for f in report.added),
        "skipped": sorted((Path(f.path).name, f.id, f.status) for f in report.skipped),
        "failed": [(Path(f.path).name, f.reason) for f in report.failed],
    }


def test_index_folder_with_and_without_workers_agree(tiny_siglip_dir: Path, tmp_path: Path) -> None:
    folder = _photo_folder(tmp_path / "photos")
    reports, stores = [], []
    for workers in (0, 3):
        encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=4, num_workers=workers)
        store = MultimodalStore.in_memory(encoder=encoder)
        reports.append(store.index_folder(folder))
        stores.append(store)
    assert _outcome(reports[0]) == _outcome(reports[1])
    assert len(reports[1].added) == 13 and len(reports[1].failed) == 2
    ids = sorted(f.id for f in reports[0].added)
    items0, items1 = stores[0].get(ids, include_vectors=True), stores[1].get(ids, include_vectors=True)
    assert [(i.id, i.uri, i.metadata) for i in items0] == [(i.id, i.uri, i.metadata) for i in items1]
    np.testing.assert_allclose([i.vector for i in items0], [i.vector for i in items1], atol=1e-6)


def test_touched_files_are_not_decoded_again(
    tiny_encoder: SiglipEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _photo_folder(tmp_path / "photos")
    store = MultimodalStore.in_memory(encoder=tiny_encoder)
    first = store.index_folder(folder)
    for path in folder.iterdir():
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    calls: list[int] = []
    real = tiny_encoder.prepare_image

    def prepare_image(image: Any) -> PreparedImage:
        calls.append(1)
        return real(image)

    monkeypatch.setattr(tiny_encoder, "prepare_image", prepare_image)
    again = store.index_folder(folder)
    assert not again.added and not again.updated
    assert {f.status for f in again.skipped} == {"unchanged", "duplicate"}
    assert len(again.skipped) == len(first.skipped) + len(first.added)
    assert [(f.path, f.reason) for f in again.failed] == [(f.path, f.reason) for f in first.failed]
    # only the broken file, whose content is in no entry, is decoded (and fails again)
    assert len(calls) == 1


def test_int8_vectors_are_close_to_float32(tiny_siglip_dir: Path, tiny_siglip2_dir: Path) -> None:
    for checkpoint in (tiny_siglip_dir, tiny_siglip2_dir):
        fp32 = SiglipEncoder(checkpoint, device="cpu")
        int8 = SiglipEncoder(checkpoint, device="cpu", dtype="int8")
        assert int8.dtype == "int8" and int8.device == "cpu"
        assert int8.model is not fp32.model
        pictures = _pictures(8, seed=3)
        images32, images8 = fp32.encode_images(pictures), int8.encode_images(pictures)
        texts = ["a photo of a red circle", "un carré bleu", "赤い丸の写真"]
        texts32, texts8 = fp32.encode_texts(texts), int8.encode_texts(texts)
        assert np.sum(images32 * images8, axis=1).min() > 0.99
        assert np.sum(texts32 * texts8, axis=1).min() > 0.99
        np.testing.assert_allclose(np.linalg.norm(images8, axis=1), 1.0, atol=1e-5)
        assert int8.logit_scale == pytest.approx(fp32.logit_scale)
        assert int8.logit_bias == pytest.approx(fp32.logit_bias)


def test_int8_has_its_own_cache_key_and_is_a_cpu_mode(tiny_siglip_dir: Path) -> None:
    a = SiglipEncoder(tiny_siglip_dir, dtype="int8")  # device "auto" means the CPU for int8
    b = SiglipEncoder(str(tiny_siglip_dir), device="cpu", dtype="qint8", batch_size=3)
    assert a.device == "cpu" and a.model is b.model
    key = (str(tiny_siglip_dir.resolve()), "cpu", "int8")
    assert load_counts()[key] == 1
    assert SiglipEncoder(tiny_siglip_dir, device="cpu").model is not a.model
    with pytest.raises(ConfigurationError, match=r"int8|CUDA"):
        SiglipEncoder(tiny_siglip_dir, device="cuda", dtype="int8")


def test_query_cache_is_an_lru_that_skips_the_model(
    tiny_siglip_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", query_cache_size=2)
    forwards: list[list[str]] = []
    real = encoder._encode_text_batch

    def encode_text_batch(texts: list[str]) -> Any:
        forwards.append(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "_encode_text_batch", encode_text_batch)
    red = encoder.encode_query("red")
    assert encoder.encode_query("red") is red
    assert len(forwards) == 1
    encoder.encode_query("blue")
    encoder.encode_query("red")  # red is now the most recent
    encoder.encode_query("green")  # evicts blue
    assert len(forwards) == 3
    assert encoder.encode_query("red") is red
    encoder.encode_query("blue")
    assert len(forwards) == 4
    with pytest.raises(ValueError, match="read-only"):
        red[0] = 1.0

    uncached = SiglipEncoder(tiny_siglip_dir, device="cpu", query_cache_size=0)
    first, second = uncached.encode_query("red"), uncached.encode_query("red")
    assert first is not second
    np.testing.assert_allclose(first, red, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_auto_device_path(tiny_siglip_dir: Path, tmp_path: Path, device: str) -> None:
    """``device="auto"`` picks the GPU where there is one, with float16 and pinned host memory."""
    encoder = SiglipEncoder(tiny_siglip_dir, device="auto" if device == "cuda" else device, batch_size=4)
    assert encoder.device == device
    assert encoder.dtype == ("float16" if device == "cuda" else "float32")
    reference = SiglipEncoder(tiny_siglip_dir, device="cpu", dtype="float32", num_workers=0)
    items = _mixed_inputs(tmp_path)
    vectors = encoder.encode_images(items)
    assert vectors.dtype == np.float32 and vectors.shape == (len(items), encoder.dim)
    assert np.sum(vectors * reference.encode_images(items), axis=1).min() > 0.99
    texts = ["a photo of a red circle", "un carré bleu"]
    assert np.sum(encoder.encode_texts(texts) * reference.encode_texts(texts), axis=1).min() > 0.99


@pytest.mark.parametrize("workers", [0, 2])
def test_chunked_decisions_match_whole_batch_decisions(
    tiny_siglip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """On a CPU a batch of 16 is decided and embedded 8 files at a time: same outcome as all at once."""
    from siglip_retriever.store import indexing

    def run(chunk: int, root: Path) -> list[dict[str, Any]]:
        monkeypatch.setattr(indexing, "_CPU_CHUNK", chunk)
        root.mkdir()
        folder = _photo_folder(root / "photos")
        original = folder / "img03.jpg"
        encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", batch_size=16, num_workers=workers)
        store = MultimodalStore.in_memory(encoder=encoder)
        outcomes = [_outcome(store.index_folder(folder))]
        # img03 moves to two new names, one in the first chunk of the batch and one in the second
        data = original.read_bytes()
        original.unlink()
        (folder / "a-moved.jpg").write_bytes(data)
        (folder / "img11-moved-too.jpg").write_bytes(data)
        (folder / "img00.jpg").write_bytes((folder / "img12.jpg").read_bytes())  # changed content
        outcomes.append(_outcome(store.index_folder(folder, remove_missing=True)))
        items = store.get(where={"kind": "image"})
        assert isinstance(items, list)
        outcomes.append({"entries": sorted((i.id, Path(i.uri or "").name) for i in items)})
        return outcomes

    whole = run(10**6, tmp_path / "whole")
    chunked = run(8, tmp_path / "chunked")
    assert chunked == whole
    moved = {name: status for name, _, status in chunked[1]["skipped"]}
    assert moved["a-moved.jpg"] == "moved"
    assert moved["img00.jpg"] == "duplicate"  # now the same picture as img12


def _use_pool_in_child(queue: Any) -> None:
    from siglip_retriever.encoding.pools import decode_pool

    try:
        queue.put(decode_pool(2, low_priority=True).submit(pow, 6, 2).result(timeout=20))
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(repr(exc))


def test_decode_threads_work_in_a_forked_child(tiny_siglip_dir: Path) -> None:
    """A forked child gets pools of its own (the parent's threads do not exist there)."""
    import multiprocessing

    from siglip_retriever.encoding.pools import decode_pool

    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", num_workers=2)
    encoder.prepare_image(_pictures(1)[0])
    assert decode_pool(2, low_priority=True).submit(pow, 6, 2).result() == 36  # the parent's pool runs
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_use_pool_in_child, args=(queue,))
    child.start()
    try:
        answer = queue.get(timeout=60)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert answer == 36


def test_int8_keeps_the_demo_models_answers() -> None:
    """On the trained demo checkpoint, int8 finds the same class as float32 for every caption that
    float32 does not call a near tie (its best class ahead of the next by less than 0.01 in
    cosine), and is right as often but for those near ties."""
    from siglip_retriever.demo.data import CLASSES, LANGUAGES, caption, render

    rng = np.random.default_rng(4242)
    per_class = 2
    pictures = [render(shape, colour, rng, size=64) for shape, colour in CLASSES for _ in range(per_class)]

    def best_per_class(texts: np.ndarray, gallery: np.ndarray) -> np.ndarray:
        """Each caption's best cosine in each class: (captions, classes)."""
        return (texts @ gallery.T).reshape(len(texts), len(CLASSES), per_class).max(axis=2)

    fp32 = SiglipEncoder("demo", device="cpu")
    int8 = SiglipEncoder("demo", device="cpu", dtype="int8")
    gallery32, gallery8 = fp32.encode_images(pictures), int8.encode_images(pictures)
    assert np.sum(gallery32 * gallery8, axis=1).min() > 0.99
    for lang in LANGUAGES:
        texts = [caption(shape, colour, lang) for shape, colour in CLASSES]
        texts32, texts8 = fp32.encode_texts(texts), int8.encode_texts(texts)
        assert np.sum(texts32 * texts8, axis=1).min() > 0.99, lang
        by_class32, by_class8 = best_per_class(texts32, gallery32), best_per_class(texts8, gallery8)
        found32, found8 = by_class32.argmax(axis=1), by_class8.argmax(axis=1)
        top_two = np.sort(by_class32, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > 0.01
        assert clear.sum() >= len(texts) - 2, lang
        np.testing.assert_array_equal(found8[clear], found32[clear], err_msg=lang)
        truth = np.arange(len(CLASSES))
        assert np.sum(found8 == truth) >= np.sum(found32 == truth) - np.sum(~clear), lang
