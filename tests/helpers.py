"""Helpers the tests share, written once: pictures, recording encoders, store snapshots, servers.

Plain functions and classes; the fixtures that use them live in the ``conftest.py`` files
(``tests/conftest.py`` for the session's tiny checkpoints and Chroma server).
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image, ImageDraw

from siglip_retriever.cli import main
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.images import ImageInput
from siglip_retriever.errors import ImageLoadError, InputTypeError
from siglip_retriever.store import MultimodalStore

# -- vectors -------------------------------------------------------------------------------------


def assert_close(actual: Any, expected: Any, atol: float = 1e-6) -> None:
    """The same vectors (lists, arrays, nested lists) within ``atol``, no relative slack."""
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=0, atol=atol)


# -- pictures ------------------------------------------------------------------------------------


def colour_pictures(
    folder: Path,
    colours: Sequence[str | tuple[int, int, int]],
    *,
    size: tuple[int, int] = (40, 40),
    widen: int = 0,
    name: str = "{colour}.png",
) -> list[Path]:
    """One plain picture per colour in ``folder`` (created if needed), in the order given.

    The ``i``-th picture is ``size[0] + i * widen`` pixels wide (so no two are the same file) and
    is saved as ``name.format(colour=..., i=i)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, colour in enumerate(colours):
        path = folder / name.format(colour=colour, i=i)
        Image.new("RGB", (size[0] + i * widen, size[1]), colour).save(path)
        paths.append(path)
    return paths


PHOTO_FORMATS = {
    "heic": "HEIF",
    "avif": "AVIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "gif": "GIF",
    "tif": "TIFF",
    "png": "PNG",
    "jpg": "JPEG",
}
"""The photo formats tests write with the real encoders, by extension: Pillow's own, and HEIC
through pillow-heif."""


def half_and_half(width: int, height: int) -> Image.Image:
    """A picture whose left half is red and right half blue."""
    picture = Image.new("RGB", (width, height), "blue")
    picture.paste((255, 0, 0), (0, 0, width // 2, height))
    return picture


def save_photo(path: Path, picture: Image.Image, *, orientation: int = 1) -> Path:
    """Save ``picture`` in the format its extension names, by that format's own encoder, with an
    EXIF orientation tag when ``orientation`` is not 1."""
    from siglip_retriever.encoding.images import enable_plugins

    enable_plugins()  # pillow-heif's HEIC writer
    options: dict[str, Any] = {"quality": 95} if path.suffix.lower() in (".jpg", ".webp") else {}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    picture.save(path, **options)
    return path


def random_pictures(count: int, seed: int = 0) -> list[Image.Image]:
    """``count`` pictures of random pixels in five sizes (square, wide, tall, large)."""
    rng = np.random.default_rng(seed)
    sizes = [(32, 32), (64, 48), (17, 90), (300, 200), (120, 80)]
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % len(sizes)] for i in range(count))
    ]


def noisy_gradient(width: int, height: int, seed: int = 0) -> Image.Image:
    """Colour gradients under blocks of random noise (one block per pixel up to 200 px, larger
    above), built in uint8 so that 7000x7000 takes under a second; PNG keeps it to a few MB."""
    rng = np.random.default_rng(seed)
    block = max(1, min(width, height) // 200)
    xs = (np.arange(width) * 127 // max(width - 1, 1)).astype(np.uint8)
    ys = (np.arange(height) * 127 // max(height - 1, 1)).astype(np.uint8)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[..., 0], pixels[..., 1] = xs[None, :], ys[:, None]
    pixels[..., 2] = xs[None, :] // 2 + ys[:, None] // 2
    noise = rng.integers(0, 128, (-(-height // block), -(-width // block), 3), dtype=np.uint8)
    pixels += np.repeat(np.repeat(noise, block, 0), block, 1)[:height, :width]
    return Image.fromarray(pixels)


def photo_like(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like picture drawn from ``seed``: smooth colour fields, a few shapes, sensor noise.

    Distinct seeds give pictures whose fingerprints differ by 18 bits or more (80 seeds measured).
    """
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    pixels = np.zeros((height, width, 3))
    for channel in range(3):
        field = np.full((height, width), rng.uniform(0.2, 0.8))
        for _ in range(6):
            fx, fy = rng.uniform(0.3, 4.0, 2)
            wave = np.cos(2 * np.pi * (fx * x + rng.uniform())) * np.cos(2 * np.pi * (fy * y + rng.uniform()))
            field += rng.normal(0, 0.15) * wave
        pixels[..., channel] = field
    picture = Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = rng.uniform(-0.1, 0.9) * width, rng.uniform(-0.1, 0.9) * height
        box = (x0, y0, x0 + rng.uniform(0.1, 0.5) * width, y0 + rng.uniform(0.1, 0.5) * height)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.uniform() < 0.5 else draw.rectangle)(box, fill=colour)
    noisy = np.asarray(picture, dtype=np.float32) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def photo_with_copies(folder: Path, seed: int, small_copy: str = "beach-small.jpg") -> Path:
    """Under ``folder``: a photo (``photos/beach.jpg``), a smaller copy of it (``photos/<small_copy>``,
    160x120), the same bytes in another folder (``backup/IMG_<seed, 4 digits>.jpg``) and a distinct
    photo (``photos/forest.jpg``): one group of three duplicates among four files. Returns ``folder``."""
    (folder / "photos").mkdir(parents=True)
    (folder / "backup").mkdir()
    picture = photo_like(seed)
    picture.save(folder / "photos" / "beach.jpg", quality=95)
    picture.resize((160, 120), Image.Resampling.LANCZOS).save(folder / "photos" / small_copy)
    shutil.copyfile(folder / "photos" / "beach.jpg", folder / "backup" / f"IMG_{seed:04d}.jpg")
    photo_like(seed + 1).save(folder / "photos" / "forest.jpg", quality=95)
    return folder


def mixed_inputs(folder: Path) -> list[Any]:
    """Paths, bytes, PIL images and arrays, JPEG and PNG, 11 in all (the paths written in ``folder``)."""
    items: list[Any] = []
    for i, picture in enumerate(random_pictures(11, seed=1)):
        kind = i % 4
        if kind == 0:
            path = folder / f"p{i}.jpg"
            picture.save(path, format="JPEG", quality=90)
            items.append(path)
        elif kind == 1:
            items.append(png_bytes(picture))
        elif kind == 2:
            items.append(picture)
        else:
            items.append(np.asarray(picture))
    return items


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as a PNG file."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_input_kinds(picture: Image.Image, folder: Path) -> list[Any]:
    """The one ``picture`` as each common kind of image input, the picture itself first.

    A PIL image, a path as ``str`` and as ``Path`` (``folder / "p.png"``), PNG bytes, a file
    object, a uint8 array, a data URI and bare base64.
    """
    data = png_bytes(picture)
    path = folder / "p.png"
    path.write_bytes(data)
    b64 = base64.b64encode(data).decode()
    return [
        picture,
        str(path),
        path,
        data,
        io.BytesIO(data),
        np.asarray(picture),
        f"data:image/png;base64,{b64}",
        b64,
    ]


# -- encoders and stores -------------------------------------------------------------------------


class RecordingEncoder(SiglipEncoder):
    """A real encoder (same cached model) that records each call.

    ``calls`` holds ``(kind, count, batch_size, thread)`` per call of ``encode_texts``
    (``"texts"``), ``encode_query`` (``"query"``) and ``encode_images`` (``"images"``);
    ``threads`` is the thread of each call.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, int, int | None, int]] = []

    @property
    def threads(self) -> list[int]:
        return [thread for *_, thread in self.calls]

    def encode_texts(self, texts: Sequence[str], **kwargs: Any) -> Any:
        self.calls.append(("texts", len(texts), kwargs.get("batch_size"), threading.get_ident()))
        return super().encode_texts(texts, **kwargs)

    def encode_query(self, text: str) -> Any:
        self.calls.append(("query", 1, None, threading.get_ident()))
        return super().encode_query(text)

    def encode_images(self, images: Sequence[ImageInput], **kwargs: Any) -> Any:
        self.calls.append(("images", len(images), kwargs.get("batch_size"), threading.get_ident()))
        return super().encode_images(images, **kwargs)


def assert_core_errors(
    embed_texts: Callable[[Any], Any],
    embed_query: Callable[[Any], Any],
    embed_images: Callable[[Any], Any],
    good_image: str,
    broken_image: str,
) -> None:
    """An adapter's text, query and image methods raise the core's errors: the bad text's position,
    the query's type, the broken file's name (and its ``source``) in a batch beside a good one."""
    with pytest.raises(InputTypeError, match="text 1 is NoneType"):
        embed_texts(["fine", None])
    with pytest.raises(InputTypeError, match="NoneType"):
        embed_query(None)
    with pytest.raises(ImageLoadError, match=re.escape(Path(broken_image).name)) as info:
        embed_images([good_image, broken_image])
    assert info.value.source == broken_image


def captioned_store(
    path: Path,
    encoder: SiglipEncoder,
    images: Sequence[str],
    captions: Sequence[str],
    texts: Sequence[str] = (),
) -> MultimodalStore:
    """An embedded store at ``path`` holding ``images``, each with its ``caption``, and ``texts``."""
    store = MultimodalStore(path, encoder=encoder)
    store.add_images(images, metadatas=[{"caption": caption} for caption in captions])
    if texts:
        store.add_texts(list(texts))
    return store


def chroma_client(path: Path) -> Any:
    """A chromadb client on the embedded database at ``path``, telemetry off."""
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))


Snapshot = dict[str, tuple[dict[str, Any], Any, Any, np.ndarray]]
"""Everything a store holds, by id: metadata, document, uri and vector."""


def snapshot(store: MultimodalStore) -> Snapshot:
    """Everything stored, by id."""
    got = store.collection.get(include=["metadatas", "documents", "uris", "embeddings"])
    assert len(got["ids"]) == len(set(got["ids"])) == store.count()
    return {
        key: (dict(meta), doc, uri, np.asarray(vector, dtype=np.float32))
        for key, meta, doc, uri, vector in zip(
            got["ids"], got["metadatas"], got["documents"], got["uris"], got["embeddings"], strict=True
        )
    }


def assert_same_store(got: Snapshot, clean: Snapshot) -> None:
    """The same ids, metadata, documents and uris, vectors within 1e-6, and no file stored twice."""
    assert sorted(got) == sorted(clean), "ids differ: missing or extra entries"
    for key, (meta, doc, uri, vector) in clean.items():
        assert got[key][:3] == (meta, doc, uri), key
        np.testing.assert_allclose(got[key][3], vector, atol=1e-6, rtol=0)
    uris = [entry[0]["uri"] for entry in got.values()]
    assert len(uris) == len(set(uris)), "a file is stored twice"


class StandardSuite:
    """Base of the classes that run LangChain's standard test suites (``langchain_tests``) here.

    A suite reads its parameters from properties, and a property cannot ask for a fixture:
    ``self.fixture(name)`` gives it one (the session's tiny checkpoint, a module's store).
    """

    request: pytest.FixtureRequest

    @pytest.fixture(autouse=True)
    def _keep_the_request(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def fixture(self, name: str) -> Any:
        """The value of the fixture ``name``, as a test that asked for it would get."""
        return self.request.getfixturevalue(name)


# -- the environment -----------------------------------------------------------------------------


def hide_module(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``module`` look uninstalled to ``importlib.util.find_spec``, whatever this environment holds."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == module else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (once this function returns)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """A ``chroma run`` process on 127.0.0.1 that a test can kill and start again (same port, same data)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (its log appended to ``data/server.log``) and wait until it answers."""
        chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
        log = (self.data / "server.log").open("ab")
        self.process = subprocess.Popen(
            [chroma, "run", "--path", str(self.data / "db"), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"chroma did not start: {(self.data / 'server.log').read_text()}"
                    ) from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed or closed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it is still running after 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# -- the command line ----------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """``siglip-retriever ARGS`` in this process (click's CliRunner), with ``env`` added."""
    return CliRunner().invoke(main, list(args), env=env)


@contextmanager
def cli_server(
    arguments: Sequence[str], *, first_line: str, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Run the console script with ``arguments`` (ending in ``serve ...``) until the block ends.

    Args:
        arguments: the command line after ``siglip-retriever``.
        first_line: how the server's first line of output must start (``"Serving 2 pictures"``).
        env: variables added to this process's environment.

    Yields:
        The URL the server printed, on 127.0.0.1.
    """
    script = Path(sys.executable).with_name("siglip-retriever")
    process = subprocess.Popen(
        [str(script), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(first_line), line + (process.stderr.read() if process.stderr else "")
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- the comparison's data -----------------------------------------------------------------------

COMPARE_COLOURS = {"red": "rouge", "green": "vert", "blue": "bleu", "yellow": "jaune"}
COMPARE_SHAPES = {"circle": "cercle", "square": "carré", "triangle": "triangle"}


def _draw_shape(shape: str, colour: str) -> Image.Image:
    image = Image.new("RGB", (40, 40), "white")
    draw = ImageDraw.Draw(image)
    box = (6, 6, 34, 34)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(20, 4), (36, 36), (4, 36)], fill=colour)
    return image


def comparison_data(root: Path) -> dict[str, Path]:
    """Write 12 pictures in 4 colour classes (labels in en and fr), and 2 captions each (en, fr).

    The pairs point at the class folders' files, so both tasks share the same 12 images.
    """
    classes = root / "classes"
    rows = []
    for colour, couleur in COMPARE_COLOURS.items():
        (classes / colour).mkdir(parents=True)
        for shape, forme in COMPARE_SHAPES.items():
            path = classes / colour / f"{shape}.png"
            _draw_shape(shape, colour).save(path)
            relative = path.relative_to(root).as_posix()
            rows.append({"image": relative, "caption": f"a {colour} {shape}", "language": "en"})
            rows.append({"image": relative, "caption": f"un {forme} {couleur}", "language": "fr"})
    labels = {colour: {"en": colour, "fr": couleur} for colour, couleur in COMPARE_COLOURS.items()}
    (classes / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    with (root / "pairs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "caption", "language"])
        writer.writeheader()
        writer.writerows(rows)
    (root / "pairs.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )
    return {"root": root, "pairs": root / "pairs.csv", "jsonl": root / "pairs.jsonl", "classes": classes}


def run_compare(*args: str) -> Result:
    """``siglip-retriever --device cpu --batch-size 8 compare ARGS``."""
    return run_cli("--device", "cpu", "--batch-size", "8", "compare", *args)


def compare_in_process(models: str, out: Path, formats: str, *data: str) -> Result:
    """``compare --models MODELS [DATA...] --out OUT --in-process --format FORMATS``."""
    return run_compare("--models", models, *data, "--out", str(out), "--in-process", "--format", formats)
