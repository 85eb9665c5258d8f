"""Images decoded and preprocessed for one checkpoint, without its model.

:class:`ImagePreparer` does what an encoder does to an image before the forward pass (decode,
EXIF orientation, RGB, reduced-scale JPEG decoding, the checkpoint's own resize and
normalisation) and returns a :class:`PreparedImage`. It holds no model and pickles to a few
kilobytes, so worker threads and worker processes (Ray tasks) prepare exactly what the model
takes, while the model is busy elsewhere.

The resize happens right after decoding, for every input kind: the picture goes straight to the
size the checkpoint's image processor would resize it to (a square side for SigLIP, the shortest
side for CLIP, a patch budget for SigLIP 2), with the processor's own filter, and the processor
then only crops and normalises. So the same pixels give the same model input whether they come
as a path, bytes, a file object, a data URI, a PIL image or a numpy array, and a PIL image gives
what the processor's Pillow backend (transformers' own where torchvision is not installed) gives
for it; a 50-megapixel PNG never reaches the processor at full size. JPEG files at least twice
the model's input side are decoded at a reduced scale first (see
:mod:`~siglip_retriever.encoding.images`), so they come close to their pixels, not exactly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from siglip_retriever.encoding.images import DecodedImage, ImageInput, decode_image

if TYPE_CHECKING:
    from siglip_retriever.encoding.remote import UrlPolicy

__all__ = ["ImagePreparer", "PreparedImage"]


@dataclass(frozen=True)
class PreparedImage:
    """An image decoded and preprocessed for one checkpoint: exactly what its forward pass takes.

    Made by :meth:`SiglipEncoder.prepare_image` (thread-safe, so it can run in worker threads);
    :meth:`SiglipEncoder.encode_images` accepts it in place of any other input and skips the
    decoding. ``width`` and ``height`` are the picture's own size after EXIF orientation, also
    when a JPEG much larger than the model's input was decoded at a reduced scale.
    """

    model_id: str
    inputs: dict[str, Any]  # numpy arrays; torch tensors on the model's device from GpuJpegPreparer
    width: int
    height: int


@dataclass(frozen=True)
class ImagePreparer:
    """Decode and preprocess images for one checkpoint without loading its model.

    :meth:`SiglipEncoder.prepare_image` goes through it; it pickles to a few kilobytes, so
    worker processes (Ray tasks, for one) prepare exactly what the encoder's own model takes.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
        >>> prepared = encoder.image_preparer()(Image.new("RGB", (64, 48), "red"))
        >>> (prepared.width, prepared.height), encoder.encode_images([prepared]).shape
        ((64, 48), (1, 32))
    """

    model_id: str
    image_processor: Any
    target_size: int
    max_pixels: int | None
    url_policy: UrlPolicy | None = None

    def __call__(self, image: ImageInput) -> PreparedImage:
        """Decode one input and preprocess it; thread-safe.

        Raises:
            ImageLoadError: the input cannot be read; the message names it.
        """
        return self.preprocess(self.decode(image))

    def decode(self, image: ImageInput) -> DecodedImage:
        """Decode one input as this checkpoint's model takes it (reduced-scale JPEG decoding,
        EXIF orientation, RGB, then resized as :meth:`resize` does), for callers that read the
        picture too; thread-safe.

        Raises:
            ImageLoadError: the input cannot be read; the message names it.
        """
        return decode_image(
            image,
            target_size=self.target_size or None,
            max_pixels=self.max_pixels,
            allow_urls=self.url_policy or False,
            resize=self.resize if _output_size(self.image_processor, 1, 1) else None,
        )

    def output_size(self, width: int, height: int) -> tuple[int, int] | None:
        """``(width, height)`` the checkpoint's image processor resizes a ``width`` x ``height``
        picture to; ``None`` when it does not resize, or by a rule not known here.

        Example:
            >>> from siglip_retriever import SiglipEncoder
            >>> SiglipEncoder("demo").image_preparer().output_size(300, 200)
            (40, 40)
        """
        return _output_size(self.image_processor, width, height)

    def resize(self, picture: Image.Image) -> Image.Image:
        """``picture`` (RGB or grayscale) resized as the checkpoint's image processor resizes
        it: to the size its rule gives for this picture, with its filter; a new image.

        Example:
            >>> from PIL import Image
            >>> from siglip_retriever import SiglipEncoder
            >>> SiglipEncoder("demo").image_preparer().resize(Image.new("RGB", (300, 200))).size
            (40, 40)
        """
        size = _output_size(self.image_processor, *picture.size)
        if size is None:  # a processor that does not resize, or a rule not known here
            return picture.copy()
        resample = getattr(self.image_processor, "resample", None)
        filter_ = Image.Resampling(int(resample)) if resample is not None else Image.Resampling.BILINEAR
        return picture.resize(size, filter_)

    def preprocess(self, decoded: DecodedImage) -> PreparedImage:
        """The checkpoint's own resize (unless :meth:`decode` did it already) and normalisation
        of a picture :meth:`decode` gave."""
        skip = {"do_resize": False} if decoded.resized else {}
        inputs = self.image_processor(images=[decoded.image], return_tensors="np", **skip)
        arrays = {key: np.asarray(value) for key, value in inputs.items()}
        return PreparedImage(self.model_id, arrays, decoded.width, decoded.height)


def _output_size(processor: Any, width: int, height: int) -> tuple[int, int] | None:
    """``(width, height)`` that ``processor`` resizes a ``width`` x ``height`` picture to, by the
    rules of transformers' image processors; ``None`` when it does not resize, or follows a rule
    not known here (its filter is not one of Pillow's, say)."""
    resample = getattr(processor, "resample", None)
    if not getattr(processor, "do_resize", False) or not isinstance(resample, (int, type(None))):
        return None
    from transformers import image_transforms, image_utils

    module = sys.modules.get(type(processor).__module__)
    patches = getattr(module, "get_image_size_for_max_num_patches", None)  # SigLIP 2's own rule
    size = getattr(processor, "size", None) or {}
    shortest, longest = size.get("shortest_edge"), size.get("longest_edge")
    if patches is not None and getattr(processor, "max_num_patches", None):
        new = patches(height, width, processor.patch_size, processor.max_num_patches)
    elif shortest and longest:
        new = image_transforms.get_size_with_aspect_ratio((height, width), shortest, longest)
    elif shortest:  # the shape alone is read: a zero-stride stand-in costs no memory
        stand_in = np.broadcast_to(np.uint8(0), (3, height, width))
        new = image_transforms.get_resize_output_image_size(
            stand_in, shortest, default_to_square=False, input_data_format="channels_first"
        )
    elif size.get("max_height") and size.get("max_width"):
        new = image_utils.get_image_size_for_max_height_width(
            (height, width), size["max_height"], size["max_width"]
        )
    elif size.get("height") and size.get("width"):
        new = (size["height"], size["width"])
    else:
        return None
    return int(new[1]), int(new[0])
