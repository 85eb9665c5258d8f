"""JPEG decoding on the GPU when the model is on CUDA (the ``gpu`` extra: torchvision's nvJPEG).

On a GPU host the model embeds thousands of pictures a second, and decoding 12 MP photos on the
CPU cannot keep up. :class:`GpuJpegPreparer` decodes a batch of JPEG files on the model's device
with ``torchvision.io.decode_jpeg(device="cuda")``, then applies the EXIF orientation, the
checkpoint's own resize (antialiased, with its filter) and its normalisation there, so the
pictures never come back to the host except as small thumbnails (for the fingerprint). What it
does not take is prepared on the CPU as before:

- files that are not JPEG (sniffed from their first bytes), CMYK or YCCK JPEGs, pictures above
  the preparer's ``max_pixels``;
- files the GPU decoder refuses: when a batch fails, its files are decoded one by one, so a
  corrupt file does not fail its neighbours;
- every file, for checkpoints whose processor has steps not done here (SigLIP 2's variable
  resolution, a filter other than bicubic or bilinear, padding).

:func:`choose_gpu_jpeg` says whether to use it: only when the model is on CUDA, torchvision is
installed and its decoder works on that device (tried once on a tiny JPEG, the result cached).

The vectors are those of the file's pixels decoded in full: this path resizes them with
``torch.nn.functional.interpolate(antialias=True)``, whose kernels are Pillow's, where the CPU
path decodes JPEGs of at least twice the model's side at a reduced scale (``Image.draft``) and
resizes with Pillow. Files the CPU path decodes in full give it the same vectors to rounding;
larger ones differ from it by what its reduced-scale decoding changes (README: "Close").

Memory: files are decoded at full size, a batch at a time (12 MP is 36 MB of 8-bit RGB, 48 MP is
144 MB), plus one float copy of one picture at a time while it is resized (four times its 8-bit
size). ``max_batch_pixels`` bounds a decode batch: 32 12 MP photos hold about 1.2 GB.

Example:
    >>> import tempfile
    >>> from siglip_retriever import SiglipEncoder
    >>> from siglip_retriever.encoding.gpu_jpeg import choose_gpu_jpeg
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()), device="cpu")
    >>> choose_gpu_jpeg(encoder.device).reason
    'GPU JPEG decoding: off (the model is on cpu)'
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage
from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DecodeBatch",
    "GpuJpegChoice",
    "GpuJpegPreparer",
    "PictureInfo",
    "choose_gpu_jpeg",
    "decoder_problem",
    "preparer_problem",
]

DecodeBatch = Callable[[list["torch.Tensor"]], Sequence["torch.Tensor"]]
"""Decodes JPEG files (each a 1-D ``uint8`` tensor on the CPU) into ``(3, height, width)`` ``uint8``
RGB tensors, EXIF orientation not applied; raises when any file cannot be decoded."""

DEFAULT_MAX_BATCH_PIXELS = 400_000_000
"""Pixels decoded at once at most (about 1.2 GB of 8-bit RGB): 33 12 MP photos, 8 48 MP ones."""

_SOI = b"\xff\xd8\xff"  # a JPEG's start-of-image marker and the first marker after it
_ORIENTATION = 0x0112
_FILTERS = {2: "bilinear", 3: "bicubic"}  # Pillow's resampling filters that torch computes alike


@dataclass(frozen=True)
class GpuJpegChoice:
    """Whether JPEG files are decoded on the GPU, and why (one line, as ``index -v`` prints it).

    Example:
        >>> GpuJpegChoice(False, "GPU JPEG decoding: off (the model is on cpu)").use
        False
    """

    use: bool
    reason: str


@dataclass(frozen=True)
class PictureInfo:
    """What indexing records of a picture that :class:`GpuJpegPreparer` prepared.

    Attributes:
        width, height: the picture's own size after EXIF orientation, as
            :class:`~siglip_retriever.encoding.images.DecodedImage` says it.
        exif: its EXIF block, read from the file's header (the date it was taken is in there:
            ``siglip_retriever.store.facts.exif_taken(info.exif)``).
        thumbnail: the picture as the model's resize made it (8-bit RGB, on the CPU): what the
            CPU path's ``ImagePreparer.decode`` gives, so the fingerprint is computed from it.
    """

    width: int
    height: int
    exif: Image.Exif
    thumbnail: Image.Image


def choose_gpu_jpeg(
    device: str, *, requested: bool | None = None, preparer: ImagePreparer | None = None
) -> GpuJpegChoice:
    """Whether to decode JPEG files on ``device`` (the model's), and the reason, in one line.

    On only when ``device`` is a CUDA device, torchvision is installed (``siglip-retriever[gpu]``),
    its JPEG decoder works there (:func:`decoder_problem`) and, when ``preparer`` is given, its
    checkpoint's steps can be done on the GPU (:func:`preparer_problem`).

    Args:
        device: the device the model runs on (``SiglipEncoder.device``).
        requested: ``None`` decides as above; ``False`` turns it off; ``True`` raises when it
            cannot be on.
        preparer: the checkpoint's preparer, to check its processor's steps too.

    Raises:
        ConfigurationError: ``requested`` is ``True`` and GPU decoding cannot run; the message
            says why and what to do.

    Example:
        >>> choose_gpu_jpeg("cpu", requested=False).reason
        'GPU JPEG decoding: off (turned off)'
    """
    if requested is False:
        return GpuJpegChoice(False, "GPU JPEG decoding: off (turned off)")
    problem = _device_problem(device) or (preparer_problem(preparer) if preparer else None)
    if problem is None:
        return GpuJpegChoice(True, f"GPU JPEG decoding: on ({device}, torchvision's nvJPEG decoder)")
    if requested:
        raise ConfigurationError(f"GPU JPEG decoding was asked for but cannot run: {problem}")
    return GpuJpegChoice(False, f"GPU JPEG decoding: off ({problem})")


def _device_problem(device: str) -> str | None:
    """Why JPEG files cannot be decoded on ``device``; ``None`` when they can."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        return f"{device!r} is not a torch device"
    if kind != "cuda":
        return f"the model is on {device}"
    if importlib.util.find_spec("torchvision") is None:
        return "install siglip-retriever[gpu]: torchvision with CUDA"
    return decoder_problem(device)


@cache
def decoder_problem(device: str) -> str | None:
    """Why torchvision's JPEG decoder does not work on ``device`` (it cannot be imported, or
    decoding a tiny JPEG there fails); ``None`` when it works. Tried once per device, then cached
    (``decoder_problem.cache_clear()`` tries again)."""
    import torch

    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except Exception as exc:  # a torchvision built for another torch fails in many ways
        built_for = f"install a torchvision built for torch {torch.__version__}"
        return f"torchvision does not load ({_short(exc)}); {built_for}"
    buffer = io.BytesIO()
    Image.new("RGB", (16, 8), (200, 40, 40)).save(buffer, format="JPEG")
    try:
        decoded = decode_jpeg([_bytes_tensor(buffer.getvalue())], mode=ImageReadMode.RGB, device=device)
        shape = tuple(decoded[0].shape)
    except Exception as exc:  # no CUDA runtime, no nvJPEG, a device that is not there
        return f"torchvision cannot decode JPEG on {device} ({_short(exc)})"
    return None if shape == (3, 8, 16) else f"torchvision decoded a test JPEG on {device} as {shape}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass(frozen=True)
class _Steps:
    """The checkpoint processor's steps after the resize, as numbers."""

    filter: str  # torch's interpolate mode
    crop: tuple[int, int] | None  # (height, width) of a centre crop
    scale: float | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None


def preparer_problem(preparer: ImagePreparer) -> str | None:
    """Why ``preparer``'s checkpoint cannot be prepared on the GPU (its processor has a step not
    done here); ``None`` when it can.

    Example:
        >>> from siglip_retriever import SiglipEncoder
        >>> preparer_problem(SiglipEncoder("demo").image_preparer()) is None
        True
    """
    steps = _steps(preparer)
    return steps if isinstance(steps, str) else None


def _steps(preparer: ImagePreparer) -> _Steps | str:
    """The processor's steps, or why they are not done on the GPU."""
    processor = preparer.image_processor
    name = type(processor).__name__
    if getattr(processor, "max_num_patches", None) or getattr(processor, "do_pad", False):
        return f"{name} resizes to a patch budget or pads; that is done on the CPU"
    if list(getattr(processor, "model_input_names", ["pixel_values"])) != ["pixel_values"]:
        return f"{name} makes inputs besides pixel_values; they are made on the CPU"
    if preparer.output_size(64, 48) is None:
        return f"{name} resizes by a rule not known here"
    resample = getattr(processor, "resample", None)
    mode = _FILTERS.get(int(resample)) if isinstance(resample, int) else None
    if mode is None:
        return f"{name}'s resampling filter {resample!r} has no GPU equivalent here"
    crop = None
    if getattr(processor, "do_center_crop", False):
        size = processor.crop_size
        crop = (int(size["height"]), int(size["width"]))
    scale = float(processor.rescale_factor) if getattr(processor, "do_rescale", False) else None
    mean = std = None
    if getattr(processor, "do_normalize", False):
        mean, std = _channels(processor.image_mean), _channels(processor.image_std)
    return _Steps(mode, crop, scale, mean, std)


def _channels(value: Any) -> tuple[float, ...]:
    values = [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    return tuple(values * 3) if len(values) == 1 else tuple(values)


@dataclass(frozen=True)
class _Header:
    """What a JPEG file's header says: its stored size, EXIF block and orientation."""

    width: int
    height: int
    exif: Image.Exif
    orientation: int


class GpuJpegPreparer:
    """Prepare JPEG files for a model on the GPU: decode, orient, resize and normalise there.

    Args:
        preparer: the checkpoint's CPU preparer (``SiglipEncoder.image_preparer()``): its
            processor's resize rule, filter and normalisation are applied, and its
            ``max_pixels`` guard kept (larger pictures go to the CPU, which refuses them).
        device: where to decode and prepare (the model's device).
        decode_batch: decodes a list of JPEG files at once (see :data:`DecodeBatch`); by default
            ``torchvision.io.decode_jpeg(..., device=device)``.
        max_batch_pixels: decode at most this many pixels at once.

    Raises:
        ConfigurationError: the checkpoint's processor has steps not done here
            (:func:`preparer_problem`).

    Example:
        >>> import io
        >>> import numpy as np, torch
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> def decode_on_cpu(files):  # a stand-in for torchvision's decoder, for this example
        ...     pictures = [Image.open(io.BytesIO(file.numpy().tobytes())).convert("RGB") for file in files]
        ...     return [torch.from_numpy(np.array(picture)).permute(2, 0, 1) for picture in pictures]
        >>> encoder = SiglipEncoder("demo", device="cpu")
        >>> gpu = GpuJpegPreparer(encoder.image_preparer(), "cpu", decode_batch=decode_on_cpu)
        >>> jpeg = io.BytesIO()
        >>> Image.new("RGB", (120, 90), "red").save(jpeg, format="JPEG")
        >>> done, not_jpeg = gpu.prepare([jpeg.getvalue(), b"GIF89a..."])
        >>> (done[1].width, done[1].height), done[1].thumbnail.size, not_jpeg
        ((120, 90), (40, 40), None)
        >>> encoder.encode_images([done[0]]).shape
        (1, 96)
    """

    def __init__(
        self,
        preparer: ImagePreparer,
        device: str,
        decode_batch: DecodeBatch | None = None,
        *,
        max_batch_pixels: int = DEFAULT_MAX_BATCH_PIXELS,
    ) -> None:
        steps = _steps(preparer)
        if isinstance(steps, str):
            raise ConfigurationError(f"GPU JPEG decoding cannot prepare this checkpoint: {steps}")
        self.preparer = preparer
        self.device = device
        self.max_batch_pixels = max_batch_pixels
        self._steps = steps
        self._normalise = _normaliser(steps, device)
        self._decode = decode_batch or _torchvision_decoder(device)

    def prepare(self, datas: Sequence[bytes]) -> list[tuple[PreparedImage, PictureInfo] | None]:
        """Prepare JPEG files (their bytes) for the model; ``None`` for each file to prepare on
        the CPU instead (not a JPEG, CMYK, too large, or refused by the GPU decoder)."""
        import torch

        results: list[tuple[PreparedImage, PictureInfo] | None] = [None] * len(datas)
        done: list[tuple[int, PreparedImage, _Header, torch.Tensor]] = []
        with torch.inference_mode():
            for chunk in self._chunks(datas):
                decoded = self._decode_files([datas[index] for index, _ in chunk])
                for (index, header), picture in zip(chunk, decoded, strict=True):
                    finished = None if picture is None else self._finish(picture, header)
                    if finished is not None:
                        done.append((index, finished[0], header, finished[1]))
            thumbnails = _on_cpu([thumbnail for *_, thumbnail in done])
        for (index, prepared, header, _), thumbnail in zip(done, thumbnails, strict=True):
            info = PictureInfo(prepared.width, prepared.height, header.exif, thumbnail)
            results[index] = (prepared, info)
        return results

    def _chunks(self, datas: Sequence[bytes]) -> list[list[tuple[int, _Header]]]:
        """The JPEG files among ``datas`` (their index and header), in decode batches of at most
        ``max_batch_pixels``."""
        chunks: list[list[tuple[int, _Header]]] = [[]]
        pixels = 0
        for index, data in enumerate(datas):
            header = self._header(data)
            if header is None:
                continue
            size = header.width * header.height
            if chunks[-1] and pixels + size > self.max_batch_pixels:
                chunks.append([])
                pixels = 0
            chunks[-1].append((index, header))
            pixels += size
        return [chunk for chunk in chunks if chunk]

    def _header(self, data: bytes) -> _Header | None:
        """The header of a JPEG file this preparer takes; ``None`` for any other file."""
        if bytes(data[:3]) != _SOI:
            return None
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ("JPEG", "MPO") or image.mode not in ("RGB", "L"):
                    return None  # CMYK and YCCK: Pillow's decoder handles their inverted inks
                exif = image.getexif()
                width, height = image.size
        except Exception:  # not readable as a JPEG: the CPU path says why
            return None
        limit = self.preparer.max_pixels
        if limit is not None and width * height > limit:
            return None  # the CPU path refuses it with its reason
        orientation = exif.get(_ORIENTATION, 1)
        return _Header(width, height, exif, orientation if orientation in range(1, 9) else 1)

    def _decode_files(self, datas: list[bytes]) -> list[torch.Tensor | None]:
        """The files decoded in one batch; when the batch fails, one by one (``None``: refused)."""
        files = [_bytes_tensor(data) for data in datas]
        try:
            pictures = list(self._decode(files))
            if len(pictures) == len(files):
                return list(pictures)
        except Exception:  # one file the decoder refuses fails the batch: find which
            pass
        single: list[torch.Tensor | None] = []
        for file in files:
            try:
                single.append(self._decode([file])[0])
            except Exception:  # refused: the CPU path decodes it, or says why it cannot
                single.append(None)
        return single

    def _finish(self, picture: torch.Tensor, header: _Header) -> tuple[PreparedImage, torch.Tensor] | None:
        """A decoded picture oriented, resized, cropped and normalised, and its resized 8-bit
        picture (the thumbnail); ``None`` when the decoder gave something unexpected."""
        import torch

        if picture.dim() != 3 or tuple(picture.shape[1:]) != (header.height, header.width):
            return None
        if picture.shape[0] == 1:
            picture = picture.expand(3, -1, -1)
        elif picture.shape[0] != 3:
            return None
        picture = _orient(picture, header.orientation)
        height, width = int(picture.shape[1]), int(picture.shape[2])
        size = self.preparer.output_size(width, height)
        if size is None:
            return None
        resized = _resize(picture, (size[1], size[0]), self._steps.filter)
        pixels = resized if self._steps.crop is None else _centre_crop(resized, self._steps.crop)
        if pixels is None:
            return None
        values = pixels.to(torch.float32)
        values = self._normalise(values)
        prepared = PreparedImage(self.preparer.model_id, {"pixel_values": values.unsqueeze(0)}, width, height)
        return prepared, resized


def _normaliser(steps: _Steps, device: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The processor's rescale and normalisation, its numbers put on ``device`` once (a copy to
    the GPU per picture would wait for the work queued before it)."""
    import torch

    mean = std = None
    if steps.mean is not None and steps.std is not None:
        mean = torch.tensor(steps.mean, dtype=torch.float32, device=device).view(-1, 1, 1)
        std = torch.tensor(steps.std, dtype=torch.float32, device=device).view(-1, 1, 1)

    def normalise(values: torch.Tensor) -> torch.Tensor:
        if steps.scale is not None:
            values = values * steps.scale
        if mean is not None and std is not None:
            values = (values - mean) / std
        return values

    return normalise


def _torchvision_decoder(device: str) -> DecodeBatch:
    """torchvision's batched JPEG decoder on ``device``, to RGB.

    It waits for the work queued on the device's current stream first: nvJPEG writes on a stream
    of its own into blocks the caching allocator hands it, which kernels still queued on this
    stream may yet read (pytorch/vision#9606, meta-pytorch/torchcodec#1634).
    """
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg

    def decode(files: list[torch.Tensor]) -> Sequence[torch.Tensor]:
        torch.cuda.current_stream(device).synchronize()
        return decode_jpeg(files, mode=ImageReadMode.RGB, device=device)

    return decode


def _bytes_tensor(data: bytes) -> torch.Tensor:
    """A file's bytes as a 1-D ``uint8`` tensor on the CPU (a writable copy, as torch wants)."""
    import torch

    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def _orient(picture: torch.Tensor, orientation: int) -> torch.Tensor:
    """A ``(C, H, W)`` picture turned upright as EXIF ``orientation`` (1-8) says, as Pillow's
    ``ImageOps.exif_transpose`` does."""
    if orientation in (5, 6, 7, 8):  # these turn the picture by a quarter: swap its axes first
        picture = picture.transpose(1, 2)
    flips = {2: (2,), 3: (1, 2), 4: (1,), 6: (2,), 7: (1, 2), 8: (1,)}.get(orientation)
    return picture.flip(flips) if flips else picture


def _resize(picture: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """A ``(3, H, W)`` ``uint8`` picture resized to ``size`` (height, width), antialiased, rounded
    back to ``uint8`` as Pillow's resize of an 8-bit picture is."""
    import torch

    if tuple(picture.shape[1:]) == size:
        return picture.contiguous()
    values = picture.unsqueeze(0).to(torch.float32)
    resized = torch.nn.functional.interpolate(
        values, size=size, mode=mode, antialias=True, align_corners=False
    )
    return resized[0].round_().clamp_(0, 255).to(torch.uint8)


def _centre_crop(picture: torch.Tensor, crop: tuple[int, int]) -> torch.Tensor | None:
    """The centre ``crop`` (height, width) of a picture, as transformers crops; ``None`` when
    the picture is smaller (the processor pads it: left to the CPU)."""
    height, width = int(picture.shape[1]), int(picture.shape[2])
    if crop[0] > height or crop[1] > width:
        return None
    top, left = (height - crop[0]) // 2, (width - crop[1]) // 2
    return picture[:, top : top + crop[0], left : left + crop[1]]


def _on_cpu(pictures: list[torch.Tensor]) -> list[Image.Image]:
    """``(3, H, W)`` ``uint8`` pictures as PIL images, copied to the host in one transfer."""
    import torch

    if not pictures:
        return []
    flat = torch.cat([picture.permute(1, 2, 0).reshape(-1) for picture in pictures]).cpu().numpy()
    images, start = [], 0
    for picture in pictures:
        height, width = int(picture.shape[1]), int(picture.shape[2])
        end = start + height * width * 3
        images.append(Image.fromarray(np.ascontiguousarray(flat[start:end].reshape(height, width, 3))))
        start = end
    return images
