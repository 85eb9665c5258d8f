"""GPU JPEG decoding (encoding/gpu_jpeg.py) on a machine without a GPU: when it is chosen and why
not, which files fall back to the CPU, and everything after the decode, run with a CPU stand-in
for torchvision's decoder. The decoder itself runs on a GPU host only (benchmarks/gpu_check.py)."""

from __future__ import annotations

import functools
import importlib.machinery
import io
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.encoding.gpu_jpeg import (
    GpuJpegPreparer,
    choose_gpu_jpeg,
    decoder_problem,
    preparer_problem,
)
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.facts import exif_taken
from siglip_retriever.store.fingerprints import hash_distance, rgb_fingerprint
from tests.helpers import hide_module, photo_like, png_bytes

COSINE = 0.999  # the documented tolerance against CPU decoding


class PillowDecoder:
    """torchvision's batched decoder stood in by Pillow: each file at full size (no reduced-scale
    draft), to RGB, EXIF orientation not applied; one refused file fails the whole call, as a
    batch fails on the GPU. Counts its calls and the files of each."""

    def __init__(self, refuse_gray: bool = False) -> None:
        self.calls: list[int] = []
        self.refuse_gray = refuse_gray

    def __call__(self, files: list[torch.Tensor]) -> list[torch.Tensor]:
        self.calls.append(len(files))
        pictures = []
        for file in files:
            assert file.dtype == torch.uint8 and file.dim() == 1
            with Image.open(io.BytesIO(file.numpy().tobytes())) as image:
                if self.refuse_gray and image.mode == "L":
                    raise RuntimeError("nvjpeg: unsupported colour format")
                rgb = image.convert("RGB")  # load() raises on a truncated file
            pictures.append(torch.from_numpy(np.array(rgb)).permute(2, 0, 1))
        return pictures


def jpeg(picture: Image.Image, *, orientation: int = 1, taken: str | None = None, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    picture.save(buffer, format="JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def demo() -> SiglipEncoder:
    return SiglipEncoder("demo", device="cpu", batch_size=8)


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    decoder_problem.cache_clear()
    yield
    decoder_problem.cache_clear()


def fake_torchvision(monkeypatch: pytest.MonkeyPatch, decode: Any) -> list[str]:
    """Install a torchvision whose ``io.decode_jpeg`` is ``decode``; returns the devices it was
    asked to decode on."""
    devices: list[str] = []

    def decode_jpeg(files: list[torch.Tensor], mode: Any = None, device: str = "cpu") -> Any:
        devices.append(str(device))
        return decode(files)

    package = types.ModuleType("torchvision")
    package.__spec__ = importlib.machinery.ModuleSpec("torchvision", None, is_package=True)
    package.__path__ = []
    io_module = types.ModuleType("torchvision.io")
    io_module.ImageReadMode = types.SimpleNamespace(RGB="RGB")  # type: ignore[attr-defined]
    io_module.decode_jpeg = decode_jpeg  # type: ignore[attr-defined]
    package.io = io_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.io", io_module)
    return devices


# -- selection -----------------------------------------------------------------------------------


def test_a_model_on_the_cpu_turns_it_off_and_says_why(demo: SiglipEncoder) -> None:
    choice = choose_gpu_jpeg(demo.device)
    assert not choice.use
    assert choice.reason == "GPU JPEG decoding: off (the model is on cpu)"
    assert choose_gpu_jpeg("cuda", requested=False).reason == "GPU JPEG decoding: off (turned off)"
    with pytest.raises(ConfigurationError, match="asked for but cannot run: the model is on cpu"):
        choose_gpu_jpeg("cpu", requested=True)
    assert "not a torch device" in choose_gpu_jpeg("abacus").reason


def test_cuda_without_torchvision_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None
) -> None:
    hide_module(monkeypatch, "torchvision")
    choice = choose_gpu_jpeg("cuda")
    assert not choice.use
    assert choice.reason == "GPU JPEG decoding: off (install siglip-retriever[gpu]: torchvision with CUDA)"
    with pytest.raises(ConfigurationError, match=r"siglip-retriever\[gpu\]"):
        choose_gpu_jpeg("cuda:0", requested=True)


def test_a_torchvision_that_does_not_load_is_named(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None
) -> None:
    package = types.ModuleType("torchvision")  # not a package: torchvision.io cannot be imported
    package.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.delitem(sys.modules, "torchvision.io", raising=False)
    reason = choose_gpu_jpeg("cuda").reason
    assert reason.startswith("GPU JPEG decoding: off (torchvision does not load (")
    assert f"install a torchvision built for torch {torch.__version__}" in reason


def test_the_decoder_is_tried_once_per_device(monkeypatch: pytest.MonkeyPatch, fresh_probe: None) -> None:
    devices = fake_torchvision(monkeypatch, PillowDecoder())
    for _ in range(3):
        choice = choose_gpu_jpeg("cuda")
        assert choice.use and choice.reason == "GPU JPEG decoding: on (cuda, torchvision's nvJPEG decoder)"
    assert devices == ["cuda"]
    assert choose_gpu_jpeg("cuda:1", requested=True).use
    assert devices == ["cuda", "cuda:1"]


def test_a_decoder_that_fails_on_the_device_turns_it_off(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None
) -> None:
    def broken(files: list[torch.Tensor]) -> list[torch.Tensor]:
        raise RuntimeError("CUDA error: no CUDA-capable device is detected\nmore lines")

    fake_torchvision(monkeypatch, broken)
    choice = choose_gpu_jpeg("cuda")
    assert not choice.use
    assert choice.reason == (
        "GPU JPEG decoding: off (torchvision cannot decode JPEG on cuda "
        "(CUDA error: no CUDA-capable device is detected))"
    )
    with pytest.raises(ConfigurationError, match="cannot decode JPEG on cuda"):
        choose_gpu_jpeg("cuda", requested=True)


def test_a_checkpoint_with_steps_not_done_on_the_gpu_stays_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None, tiny_siglip2_dir: Path, demo: SiglipEncoder
) -> None:
    fake_torchvision(monkeypatch, PillowDecoder())
    siglip2 = SiglipEncoder(tiny_siglip2_dir, device="cpu").image_preparer()
    problem = preparer_problem(siglip2)
    assert problem is not None and "patch budget" in problem
    assert choose_gpu_jpeg("cuda", preparer=siglip2).reason == f"GPU JPEG decoding: off ({problem})"
    assert choose_gpu_jpeg("cuda", preparer=demo.image_preparer()).use
    with pytest.raises(ConfigurationError, match="cannot prepare this checkpoint"):
        GpuJpegPreparer(siglip2, "cpu", decode_batch=PillowDecoder())


# -- fallback ------------------------------------------------------------------------------------


def test_files_the_gpu_does_not_take_come_back_as_none_and_spare_their_neighbours(
    demo: SiglipEncoder,
) -> None:
    good = [jpeg(photo_like(seed, (160, 120))) for seed in range(3)]
    cmyk = io.BytesIO()
    Image.new("CMYK", (64, 48), (0, 200, 200, 0)).save(cmyk, format="JPEG")
    truncated = good[0][: len(good[0]) // 2]  # the header reads, the decode fails
    gray = jpeg(photo_like(9, (80, 60)).convert("L"))
    datas = [
        good[0],
        png_bytes(photo_like(3)),
        cmyk.getvalue(),
        b"\xff\xd8\xff" + b"\x00" * 200,  # a JPEG's first bytes, then nothing a JPEG holds
        truncated,
        good[1],
        gray,
        b"",
        good[2],
    ]
    decoder = PillowDecoder(refuse_gray=True)
    results = GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=decoder).prepare(datas)
    assert [result is not None for result in results] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    assert decoder.calls == [5, 1, 1, 1, 1, 1]  # the batch failed, then each file alone
    alone = GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=PillowDecoder()).prepare(good)
    for (prepared, info), result in zip(alone, [results[0], results[5], results[8]], strict=True):
        assert result is not None
        assert torch.equal(result[0].inputs["pixel_values"], prepared.inputs["pixel_values"])
        assert (result[1].width, result[1].height) == (info.width, info.height) == (160, 120)
    # a decoder that takes grayscale prepares it, as the CPU path does
    assert GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=PillowDecoder()).prepare([gray])[0]


def test_pictures_over_max_pixels_are_left_to_the_cpu_which_refuses_them(tiny_siglip_dir: Path) -> None:
    encoder = SiglipEncoder(tiny_siglip_dir, device="cpu", max_pixels=100 * 100)
    gpu = GpuJpegPreparer(encoder.image_preparer(), "cpu", decode_batch=PillowDecoder())
    small, large = jpeg(photo_like(1, (100, 100))), jpeg(photo_like(2, (101, 100)))
    assert [result is not None for result in gpu.prepare([small, large])] == [True, False]


def test_decode_batches_hold_at_most_max_batch_pixels(demo: SiglipEncoder) -> None:
    datas = [jpeg(photo_like(seed, (100, 100))) for seed in range(5)]
    decoder = PillowDecoder()
    chunked = GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=decoder, max_batch_pixels=25_000)
    results = chunked.prepare(datas)
    assert decoder.calls == [2, 2, 1]
    whole = GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=PillowDecoder()).prepare(datas)
    for a, b in zip(results, whole, strict=True):
        assert a is not None and b is not None
        assert torch.equal(a[0].inputs["pixel_values"], b[0].inputs["pixel_values"])


# -- the whole path after the decode ---------------------------------------------------------------


def photos(encoder: SiglipEncoder, *, large: bool) -> list[bytes]:
    """Photo-like JPEGs in every EXIF orientation: ``large`` ones (which the CPU path decodes at
    reduced scale), or ones the CPU path decodes in full (short side under twice the model's)."""
    side = 2 * encoder.image_size - 1
    sizes = (
        ((400, 300), (333, 517), (640, 480), (500, 700))
        if large
        else ((side, side * 3 // 4), (side // 2, side))
    )
    return [
        jpeg(photo(seed, sizes[seed % len(sizes)]), orientation=orientation)
        for seed, orientation in enumerate(range(1, 9))
    ]


@functools.cache
def photo(seed: int, size: tuple[int, int]) -> Image.Image:
    return photo_like(seed, size)


def pixels_in_full(data: bytes) -> Image.Image:
    """The picture of a JPEG file decoded in full by Pillow, upright."""
    with Image.open(io.BytesIO(data)) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def assert_like_cpu_decoding(
    encoder: SiglipEncoder, datas: Sequence[bytes], *, in_full: bool = False
) -> None:
    """GpuJpegPreparer's inputs give vectors within :data:`COSINE` of the CPU path's on the same
    bytes (``in_full``: on the pixels Pillow decodes in full), and the same sizes."""
    results = GpuJpegPreparer(encoder.image_preparer(), "cpu", decode_batch=PillowDecoder()).prepare(datas)
    prepared = [result[0] for result in results if result is not None]
    assert len(prepared) == len(datas)
    on_gpu = encoder.encode_images(prepared)
    on_cpu = encoder.encode_images([pixels_in_full(data) for data in datas] if in_full else list(datas))
    cosines = np.sum(on_gpu * on_cpu, axis=1)
    assert cosines.min() >= COSINE, cosines
    for data, picture in zip(datas, prepared, strict=True):
        cpu = encoder.prepare_image(data)
        assert (picture.width, picture.height) == (cpu.width, cpu.height)
        assert picture.inputs["pixel_values"].shape == cpu.inputs["pixel_values"].shape
        assert picture.inputs["pixel_values"].dtype == torch.float32


@pytest.mark.parametrize("model", ["demo", "tiny SigLIP", "tiny CLIP (centre crop)"])
def test_vectors_match_cpu_decoding(
    model: str, demo: SiglipEncoder, tiny_encoder: SiglipEncoder, tiny_clip_dir: Path
) -> None:
    encoder = {"demo": demo, "tiny SigLIP": tiny_encoder}.get(model) or SiglipEncoder(
        tiny_clip_dir, device="cpu"
    )
    assert_like_cpu_decoding(encoder, photos(encoder, large=False))
    # larger files: the CPU path decodes them at reduced scale (Image.draft), an approximation of
    # their pixels; the GPU decodes them in full, so its vectors are those of the pixels
    assert_like_cpu_decoding(encoder, photos(encoder, large=True), in_full=True)


@pytest.mark.slow
def test_large_photos_stay_close_to_the_cpu_paths_reduced_scale_decoding(demo: SiglipEncoder) -> None:
    """The pictures README measures reduced-scale decoding on (photo-like, seed 3, quality 90, from
    600x800), in every orientation: the GPU's vectors are within COSINE of the CPU path's."""
    datas = [
        jpeg(photo(3, size), orientation=orientation, quality=90)
        for size in [(600, 800), (1600, 1200)]
        for orientation in range(1, 9)
    ]
    assert_like_cpu_decoding(demo, datas)


def test_a_batch_mixes_pictures_prepared_on_the_device_and_on_the_cpu(demo: SiglipEncoder) -> None:
    datas = photos(demo, large=True)[:4]
    results = GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=PillowDecoder()).prepare(datas)
    mixed = [result[0] if index % 2 and result else datas[index] for index, result in enumerate(results)]
    apart = np.concatenate([demo.encode_images([item]) for item in mixed])
    np.testing.assert_allclose(demo.encode_images(mixed, batch_size=4), apart, atol=1e-5)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_sizes_orientation_and_thumbnail_are_pillows(demo: SiglipEncoder, orientation: int) -> None:
    picture = photo_like(orientation, (180, 120))
    data = jpeg(picture, orientation=orientation, taken="2021:06:05 14:03:09")
    result = GpuJpegPreparer(demo.image_preparer(), "cpu", decode_batch=PillowDecoder()).prepare([data])[0]
    assert result is not None
    prepared, info = result
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    assert (info.width, info.height) == (prepared.width, prepared.height) == upright.size
    assert exif_taken(info.exif) == "2021-06-05T14:03:09"
    cpu = demo.image_preparer().decode(data)  # what the CPU path fingerprints
    assert info.thumbnail.size == cpu.image.size and info.thumbnail.mode == "RGB"
    difference = np.abs(np.asarray(info.thumbnail, dtype=np.int16) - np.asarray(cpu.image, dtype=np.int16))
    assert difference.mean() < 2.0
    assert hash_distance(rgb_fingerprint(info.thumbnail), rgb_fingerprint(cpu.image)) <= 4
    # the thumbnail is the upright picture: it matches Pillow's, and not a turned one
    expected = np.asarray(upright.resize(info.thumbnail.size, Image.Resampling.BICUBIC), dtype=np.int16)
    assert np.abs(np.asarray(info.thumbnail, dtype=np.int16) - expected).max() <= 4
