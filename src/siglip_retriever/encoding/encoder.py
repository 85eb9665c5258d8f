"""The encoder core: load a checkpoint once, encode texts and images in batches.

Every adapter of this package (LangChain, LlamaIndex, Chroma, the store, the CLI) goes through
:class:`SiglipEncoder`. Loading the same ``(checkpoint, device, dtype)`` twice in one process
returns the model that is already in memory.

Example:
    >>> import tempfile
    >>> from siglip_retriever import SiglipEncoder
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()))
    >>> encoder.encode_texts(["a red circle", "un cercle rouge"]).shape
    (2, 32)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.backends import pair_probabilities
from siglip_retriever.encoding.batching import batches, joined
from siglip_retriever.encoding.images import DEFAULT_MAX_PIXELS, ImageInput, image_list
from siglip_retriever.encoding.loading import canonical_dtype, load_model, resolve_device, resolve_dtype
from siglip_retriever.encoding.pools import decode_pool, default_workers
from siglip_retriever.encoding.pools import submit as submit_to
from siglip_retriever.encoding.preparing import ImagePreparer, PreparedImage
from siglip_retriever.encoding.presets import Preset, resolve_model
from siglip_retriever.encoding.remote import resolve_url_policy
from siglip_retriever.encoding.scores import ScoreKind, cosine_matrix
from siglip_retriever.encoding.texts import text_list
from siglip_retriever.errors import ConfigurationError, InputTypeError, ModelLoadError

if TYPE_CHECKING:
    import torch

    from siglip_retriever.encoding.remote import UrlPolicy

__all__ = [
    "ImagePreparer",
    "PreparedImage",
    "SiglipEncoder",
    "pooled_features",
    "resolve_encoder",
    "unit_vectors",
]

Vectors = npt.NDArray[np.float32]
_T = TypeVar("_T")


def pooled_features(output: Any) -> torch.Tensor:
    """The pooled features of ``get_*_features``: a tensor in transformers 4, a model output in 5."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if pooled is None:
        raise ModelLoadError("the model's get_*_features returned no pooled output")
    return pooled


def unit_vectors(features: torch.Tensor) -> Vectors:
    """Features as L2-normalised float32 rows on the CPU."""
    import torch

    vectors = features.float()
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=-1, keepdim=True).clamp_min(1e-12)
    return vectors.cpu().numpy().astype(np.float32, copy=False)


class SiglipEncoder:
    """Encode texts and images into one L2-normalised vector space.

    Args:
        model: a preset name (``"multilingual"``, ``"demo"``, ...; see
            :mod:`siglip_retriever.encoding.presets`), a model-hub id or the directory of a checkpoint
            saved with ``save_pretrained``. ``None`` is the multilingual SigLIP.
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"`` (float16 on cuda, float32 elsewhere), ``"float32"``, ``"float16"``,
            ``"bfloat16"`` or ``"int8"``. bfloat16 is fast on CPUs with native bfloat16 (AMX) and slow
            without it. ``"int8"`` (CPU only; ``device="auto"`` then means the CPU) quantises every
            Linear layer dynamically; its speed-up over float32 depends on the CPU and its vectors
            stay close to the float32 ones (BENCHMARKS.md, int8 and bfloat16). It is loaded and
            cached apart from the float32 model.
        batch_size: how many texts or images go through the model at once.
        show_progress: show a progress bar on long encodes.
        query_cache_size: how many query vectors :meth:`encode_query` keeps (0 disables).
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).
        num_workers: threads that decode and preprocess the next batch of images while the
            model runs the current one. ``None``: 2 on CPU (at a lower priority than the
            model, so the forward pass keeps the cores), one per CPU core (up to 16) on a GPU.
            ``0`` decodes in the calling thread, one batch after the other.
        allow_urls: fetch images given as ``http(s)://`` URLs: ``True`` under the default
            :class:`~siglip_retriever.encoding.remote.UrlPolicy` (timeouts, a byte limit, bounded
            redirects), or a policy of your own (a host allow-list, say). ``False``, the default,
            refuses URLs with :class:`~siglip_retriever.errors.UrlNotAllowedError`.

    Raises:
        UnknownPresetError: ``model`` is not a preset, directory or hub id.
        ModelLoadError: the checkpoint cannot be loaded.
        ConfigurationError: an option has an impossible value.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> encoder = SiglipEncoder(build_checkpoint(tempfile.mkdtemp()), batch_size=8)
        >>> images = encoder.encode_images([Image.new("RGB", (64, 48), "red")])
        >>> texts = encoder.encode_texts(["a red square"])
        >>> encoder.probabilities(texts, images).shape
        (1, 1)
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        show_progress: bool = False,
        query_cache_size: int = 1024,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        num_workers: int | None = None,
        allow_urls: bool | UrlPolicy = False,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
        if query_cache_size < 0:
            raise ConfigurationError("query_cache_size must be 0 or more")
        if num_workers is not None and (not isinstance(num_workers, int) or num_workers < 0):
            raise ConfigurationError(f"num_workers must be None or an integer >= 0, not {num_workers!r}")
        preset = resolve_model(model)
        if device == "auto" and canonical_dtype(dtype) == "int8":
            device = "cpu"  # int8 is a CPU mode
        resolved_device = resolve_device(device)
        self._loaded = load_model(preset, resolved_device, resolve_dtype(dtype, resolved_device))
        self.num_workers = default_workers(resolved_device) if num_workers is None else num_workers
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.max_pixels = max_pixels
        self.url_policy = resolve_url_policy(allow_urls)
        """The policy under which image URLs are fetched; ``None``: URLs are refused."""
        self._query_cache: OrderedDict[str, Vectors] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._query_lock = threading.Lock()

    # -- facts ---------------------------------------------------------------------------------

    @property
    def preset(self) -> Preset:
        """The checkpoint and its facts, as read from the loaded configuration."""
        return self._loaded.preset

    @property
    def model_id(self) -> str:
        """What ``from_pretrained`` received: a hub id or an absolute directory."""
        return self._loaded.preset.model_id

    @property
    def family(self) -> str:
        """``"siglip"``, ``"siglip2"`` or ``"clip"``."""
        return self._loaded.preset.family

    @property
    def score_kind(self) -> ScoreKind:
        """``"sigmoid"`` for SigLIP (independent probabilities), ``"softmax"`` for CLIP."""
        return self._loaded.preset.score_kind

    @property
    def dim(self) -> int:
        """The size of every vector this encoder returns."""
        return self._loaded.dim

    @property
    def text_length(self) -> int:
        """Tokens per text; longer texts are truncated, shorter ones padded to this length."""
        return self._loaded.preset.text_length

    @property
    def image_size(self) -> int:
        """Input side in pixels (0 for SigLIP 2's variable resolution)."""
        return self._loaded.preset.image_size

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return self._loaded.device

    @property
    def dtype(self) -> str:
        """The model's floating-point type."""
        return self._loaded.dtype

    @property
    def logit_scale(self) -> float:
        """The multiplier of cosine similarities (``exp`` of the stored parameter)."""
        return self._loaded.logit_scale

    @property
    def logit_bias(self) -> float:
        """SigLIP's learned bias (0 for CLIP)."""
        return self._loaded.logit_bias

    @property
    def model(self) -> Any:
        """The underlying transformers model (shared by every encoder of the same checkpoint)."""
        return self._loaded.model

    def __repr__(self) -> str:
        return (
            f"SiglipEncoder(model={self.preset.name!r}, device={self.device!r}, "
            f"dtype={self.dtype!r}, dim={self.dim})"
        )

    # -- encoding ------------------------------------------------------------------------------

    def encode_texts(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> Vectors:
        """Encode texts into an ``(N, dim)`` float32 array of unit vectors.

        Texts are tokenised as the checkpoint was trained, by its family's rule
        (:meth:`~siglip_retriever.encoding.families.Family.tokenize`): padded to its text length
        (``padding="max_length"`` for SigLIP) and truncated beyond it. Any string works: an empty
        or blank text is encoded like any other (the model sees only its padding, and the vector
        is the same for every empty text), control characters and emoji go to the tokenizer as
        they are, and lone surrogates, which no tokenizer accepts, become U+FFFD.

        Raises:
            InputTypeError: ``texts`` is a single string, ``None``, or holds a non-string.
        """
        items = text_list(texts, hint=" or use encode_query(text)")
        size = batch_size or self.batch_size
        bar = self._progress(batches(items, size), len(items), size, show_progress, "texts")
        return joined((self._encode_text_batch(part) for part in bar), dim=self.dim)

    def encode_query(self, text: str, *, encode: Callable[[list[str]], Vectors] | None = None) -> Vectors:
        """Encode one text into a ``(dim,)`` vector, served from a small LRU cache when repeated.

        The returned array is read-only, since it may be shared with later calls. ``encode`` is
        how a text missing from the cache is encoded (texts -> their vectors, by this encoder's
        model): by default on its own, in the calling thread; a server passes an
        :class:`~siglip_retriever.encoding.queue.EncodeQueue`'s, so that concurrent queries share
        one forward pass.
        """
        if not isinstance(text, str):
            raise InputTypeError(f"a query must be a str, not {type(text).__name__}")
        if self._query_cache_size:
            with self._query_lock:
                cached = self._query_cache.get(text)
                if cached is not None:
                    self._query_cache.move_to_end(text)
                    return cached
        vector = np.array((encode or self._encode_text_batch)([text])[0])
        vector.setflags(write=False)
        if self._query_cache_size:
            with self._query_lock:
                self._query_cache[text] = vector
                while len(self._query_cache) > self._query_cache_size:
                    self._query_cache.popitem(last=False)
        return vector

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens of each text the model reads: its tokenizer's, truncated at
        :attr:`text_length`, padding not counted (what a server reports as usage); thread-safe.

        Example:
            >>> from siglip_retriever import SiglipEncoder
            >>> encoder = SiglipEncoder("demo")
            >>> short, long = encoder.count_tokens(["un chat", "un chat " * 100])
            >>> short < long == encoder.text_length
            True
        """
        items = text_list(texts, what="count_tokens")
        loaded = self._loaded
        with loaded.tokenizer_lock:
            return loaded.family.count_tokens(loaded.tokenizer, items, self.text_length)

    def encode_images(
        self,
        images: Sequence[ImageInput | PreparedImage],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> Vectors:
        """Encode images into an ``(N, dim)`` float32 array of unit vectors.

        Accepts every input :func:`siglip_retriever.encoding.images.load_image` accepts, and
        :class:`PreparedImage`, mixed freely. While the model runs one batch, worker threads
        decode and preprocess the next (see ``num_workers``); the vectors and their order are
        the same as with no workers.

        Raises:
            ImageLoadError: an input cannot be read; the message names it.
        """
        items = image_list(images)
        size = batch_size or self.batch_size
        prepared = self._prepared_batches(batches(items, size))
        try:
            bar = self._progress(prepared, len(items), size, show_progress, "images")
            return joined((self._forward_images(part) for part in bar), dim=self.dim)
        finally:
            prepared.close()

    def prepare_image(self, image: ImageInput | PreparedImage) -> PreparedImage:
        """Decode and preprocess one input for this model; thread-safe.

        What :meth:`encode_images` does to each input before the forward pass, as a step of its
        own, so that callers can run it in worker threads (the PIL decode and resize release the
        GIL) while the model is busy.

        Raises:
            ImageLoadError: the input cannot be read; the message names it.
        """
        if isinstance(image, PreparedImage):
            self._check_prepared(image)
            return image
        return self.image_preparer()(image)

    def image_preparer(self) -> ImagePreparer:
        """What :meth:`prepare_image` does, without the model: small and picklable, for worker
        processes that decode and preprocess while other processes run the model."""
        loaded = self._loaded
        return ImagePreparer(
            self.model_id, loaded.image_processor, self.image_size, self.max_pixels, self.url_policy
        )

    def submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run ``function(*args)`` in this encoder's decode threads (now, without workers).

        For work that should overlap the model the way image decoding does, such as reading and
        hashing files while the previous batch is embedded.
        """
        return submit_to(self._executor(), function, *args)

    def probabilities(
        self, text_vectors: npt.ArrayLike, image_vectors: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Match probabilities, shaped ``(n_texts, n_images)``.

        For SigLIP: ``sigmoid(logit_scale * cos + logit_bias)``, each pair independent.
        For CLIP (``score_kind == "softmax"``): a softmax over the texts for each image.
        """
        return pair_probabilities(self, text_vectors, image_vectors)

    @staticmethod
    def cosine(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Cosine similarities ``(len(a), len(b))`` of two sets of unit vectors."""
        return cosine_matrix(a, b)

    # -- internals -----------------------------------------------------------------------------

    def _progress(
        self, parts: Iterable[list[_T]], total: int, size: int, show: bool | None, unit: str
    ) -> Iterator[list[_T]]:
        """The batches as they come, with a progress bar of ``total`` items for more than one batch."""
        if not (self.show_progress if show is None else show) or total <= size:
            yield from parts
            return
        from tqdm.auto import tqdm

        with tqdm(total=total, unit=unit.rstrip("s"), desc=f"encoding {unit}") as bar:
            for part in parts:
                yield part
                bar.update(len(part))

    def _encode_text_batch(self, texts: list[str]) -> Vectors:
        import torch

        # the family's rule (encoding/families.py), as fine-tuning tokenises
        inputs = self._loaded.tokenize(texts)
        with torch.inference_mode():
            return unit_vectors(pooled_features(self._loaded.model.get_text_features(**inputs)))

    def _executor(self) -> ThreadPoolExecutor | None:
        """The shared decode threads of this encoder's device, or ``None`` without workers."""
        if self.num_workers <= 0:
            return None
        return decode_pool(self.num_workers, low_priority=self.device == "cpu")

    def _prepared_batches(self, batches: list[list[Any]]) -> Generator[list[PreparedImage], None, None]:
        """Yield each batch prepared, preparing up to two batches ahead in the worker threads."""
        pool = self._executor()
        if pool is None:
            for batch in batches:
                yield [self.prepare_image(item) for item in batch]
            return
        ahead: deque[list[Future[PreparedImage]]] = deque()
        upcoming = iter(batches)
        try:
            for batch in upcoming:
                ahead.append([pool.submit(self.prepare_image, item) for item in batch])
                if len(ahead) == 2:
                    break
            while ahead:
                futures = ahead.popleft()
                results = [future.result() for future in futures]  # raises the first failure, in order
                following = next(upcoming, None)
                if following is not None:
                    ahead.append([pool.submit(self.prepare_image, item) for item in following])
                yield results
        finally:
            for futures in ahead:  # an error or an early stop: drop work that is not needed
                for future in futures:
                    future.cancel()

    def _check_prepared(self, image: PreparedImage) -> None:
        if image.model_id != self.model_id:
            raise ConfigurationError(
                f"this image was prepared for model {image.model_id!r}, not {self.model_id!r}; "
                "prepare it with this encoder"
            )

    def _forward_images(self, prepared: list[PreparedImage]) -> Vectors:
        """Run the model on prepared images (one batch) and return unit vectors."""
        import torch

        loaded = self._loaded
        for image in prepared:
            self._check_prepared(image)
        dtype = getattr(torch, loaded.input_dtype)
        on_gpu = loaded.device.startswith("cuda")
        tensors = {}
        for key in prepared[0].inputs:
            parts = [image.inputs[key] for image in prepared]
            if any(isinstance(part, torch.Tensor) for part in parts):  # prepared on the device (GPU JPEG)
                moved = torch.cat([torch.as_tensor(part, device=loaded.device) for part in parts])
            else:
                stacked = torch.from_numpy(np.concatenate(parts))
                if on_gpu:  # pinned host memory: an asynchronous copy, overlapped with the launch
                    stacked = stacked.pin_memory()
                moved = stacked.to(loaded.device, non_blocking=on_gpu)
            tensors[key] = moved.to(dtype) if moved.is_floating_point() else moved
        with torch.inference_mode():
            return unit_vectors(pooled_features(loaded.model.get_image_features(**tensors)))


_ENCODER_OPTIONS = ("model", "device", "dtype")


def resolve_encoder(
    encoder: SiglipEncoder | None,
    *,
    model: str | os.PathLike[str] | None,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 32,
    given: Collection[str] = (),
) -> SiglipEncoder:
    """Return ``encoder`` itself, or a new encoder built from the options.

    Every class that takes either an encoder or the encoder's options (the store, the zero-shot
    classifier, the framework adapters) goes through this. Encoders built with the same options
    share one model in memory.

    Args:
        encoder: an encoder to adopt, or ``None`` to build one.
        model: preset name, hub id or directory (ignored when ``encoder`` is given).
        device: device option of :class:`SiglipEncoder`.
        dtype: dtype option of :class:`SiglipEncoder`.
        batch_size: batch size of a new encoder.
        given: the option names the caller set explicitly; ``model``, ``device`` or ``dtype``
            next to ``encoder`` is refused, since the encoder already fixes them.

    Raises:
        InputTypeError: ``encoder`` is not a :class:`SiglipEncoder`.
        ConfigurationError: both ``encoder`` and one of its options were given.
    """
    if encoder is None:
        return SiglipEncoder(model, device=device, dtype=dtype, batch_size=batch_size)
    if not isinstance(encoder, SiglipEncoder):
        raise InputTypeError(f"encoder must be a SiglipEncoder, not {type(encoder).__name__}")
    clash = [name for name in _ENCODER_OPTIONS if name in given]
    if clash:
        raise ConfigurationError(
            f"pass either encoder= or {'/'.join(clash)}=, not both: an encoder already fixes its "
            "model, device and dtype"
        )
    return encoder
