"""Images decoded and preprocessed for one checkpoint, without its model.

:class:`ImagePreparer` does what an encoder does to an image before the forward pass (decode,
EXIF orientation, RGB, reduced-scale JPEG decoding, the checkpoint's own resize and
normalisation) and returns a :class:`PreparedImage`. It holds no model and pickles to a few
kilobytes, so worker threads and worker processes (Ray tasks) prepare exactly what the model
takes, while the model is busy elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

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
    inputs: dict[str, npt.NDArray[Any]]
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
        EXIF orientation, RGB), for callers that read the picture too; thread-safe.

        Raises:
            ImageLoadError: the input cannot be read; the message names it.
        """
        return decode_image(
            image,
            target_size=self.target_size or None,
            max_pixels=self.max_pixels,
            allow_urls=self.url_policy or False,
        )

    def preprocess(self, decoded: DecodedImage) -> PreparedImage:
        """The checkpoint's own resize and normalisation of a picture :meth:`decode` gave."""
        inputs = self.image_processor(images=[decoded.image], return_tensors="np")
        arrays = {key: np.asarray(value) for key, value in inputs.items()}
        return PreparedImage(self.model_id, arrays, decoded.width, decoded.height)
