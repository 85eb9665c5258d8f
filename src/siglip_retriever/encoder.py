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

import importlib.util
import logging
import os
import sys
import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError, InputTypeError, ModelLoadError
from siglip_retriever.images import DEFAULT_MAX_PIXELS, ImageInput, load_image
from siglip_retriever.presets import Preset, resolve_model, with_facts
from siglip_retriever.remote import resolve_url_policy
from siglip_retriever.scoring import ScoreKind, sigmoid_probability, softmax_probability
from siglip_retriever.texts import encodable_text

if TYPE_CHECKING:
    import torch

    from siglip_retriever.remote import UrlPolicy

__all__ = [
    "ImagePreparer",
    "PreparedImage",
    "SiglipEncoder",
    "clear_model_cache",
    "forget_models",
    "load_counts",
    "loaded_models",
]

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
_T = TypeVar("_T")

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "int8": "int8",
    "qint8": "int8",
}
_CPU_DECODE_NICENESS = 10
"""How much lower than the caller's priority decode threads run when the model is on the CPU: the
forward pass keeps the cores, decoding fills the gaps and catches up when the model waits."""


@dataclass
class _LoadedModel:
    """A model, its tokenizer and image processor, loaded once per process."""

    preset: Preset
    model: Any
    tokenizer: Any
    image_processor: Any
    device: str
    dtype: str
    dim: int
    logit_scale: float
    logit_bias: float
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def input_dtype(self) -> str:
        """The floating-point type of the model's inputs (int8 models take float32)."""
        return "float32" if self.dtype == "int8" else self.dtype


@dataclass(frozen=True)
class PreparedImage:
    """An image decoded and preprocessed for one checkpoint: exactly what its forward pass takes.

    Made by :meth:`SiglipEncoder.prepare_image` (thread-safe, so it can run in worker threads);
    :meth:`SiglipEncoder.encode_images` accepts it in place of any other input and skips the
    decoding. ``width`` and ``height`` are those of the decoded picture (JPEGs much larger than
    the model's input are decoded at a reduced scale).
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
        picture = load_image(
            image,
            target_size=self.target_size or None,
            max_pixels=self.max_pixels,
            allow_urls=self.url_policy or False,
        )
        inputs = self.image_processor(images=[picture], return_tensors="np")
        arrays = {key: np.asarray(value) for key, value in inputs.items()}
        return PreparedImage(self.model_id, arrays, picture.width, picture.height)


_CACHE: dict[tuple[str, str, str], _LoadedModel] = {}
_CACHE_LOCK = threading.Lock()
_LOADS: Counter[tuple[str, str, str]] = Counter()


def load_counts() -> dict[tuple[str, str, str], int]:
    """How many times each ``(model_id, device, dtype)`` was loaded from disk in this process."""
    return dict(_LOADS)


def loaded_models() -> set[tuple[str, str, str]]:
    """The ``(model_id, device, dtype)`` of every model held in memory now."""
    with _CACHE_LOCK:
        return set(_CACHE)


def forget_models(keys: set[tuple[str, str, str]]) -> None:
    """Drop these models from memory (encoders that hold them keep working)."""
    with _CACHE_LOCK:
        for key in keys:
            _CACHE.pop(key, None)


def clear_model_cache() -> None:
    """Forget every loaded model; the next encoder loads its checkpoint again."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    base = device.split(":", 1)[0]
    if base not in ("cpu", "cuda", "mps"):
        raise ConfigurationError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'mps', not {device!r}")
    if base == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(
            "device 'cuda' was asked for, but torch sees no CUDA GPU; use 'cpu' or 'auto'"
        )
    return device


def _resolve_dtype(dtype: str, device: str) -> str:
    if dtype == "auto":
        return "float16" if device.startswith("cuda") else "float32"
    name = _DTYPES.get(str(dtype).lower().removeprefix("torch."))
    if name is None:
        raise ConfigurationError(
            f"dtype must be 'auto', 'float32', 'float16', 'bfloat16' or 'int8', not {dtype!r}"
        )
    if name == "int8" and device != "cpu":
        raise ConfigurationError(
            f"dtype 'int8' (dynamic int8 quantisation) runs on the CPU only, not on {device!r}; "
            "use device='cpu', or dtype 'float16' on a GPU"
        )
    return name


def _quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of every ``Linear`` layer: int8 weights (one scale per output
    channel), activations quantised on the fly; about 1.5x faster than float32 on AVX2 CPUs."""
    import warnings

    import torch

    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - depends on the torch build
        raise ConfigurationError(
            "dtype 'int8' needs torch's dynamic quantisation (torch.ao.quantization), which this "
            "torch build lacks; use dtype 'float32'"
        ) from exc
    # every Linear but SigLIP 2's patch embedding, whose weight the model reads as a tensor
    names = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if type(module) is torch.nn.Linear and not name.endswith("patch_embedding")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return quantize_dynamic(model, names, inplace=False)


def _load(preset: Preset, device: str, dtype: str) -> _LoadedModel:
    key = (preset.model_id, device, dtype)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        loaded = _load_from_disk(preset, device, dtype)
        _CACHE[key] = loaded
        _LOADS[key] += 1
        return loaded


def _load_from_disk(preset: Preset, device: str, dtype: str) -> _LoadedModel:
    import torch
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    source = preset.model_id
    if os.path.isabs(source) and not os.path.isdir(source):
        raise ModelLoadError(
            f"checkpoint directory {source} does not exist"
            + (
                " (the bundled demo model is missing: reinstall the package)"
                if preset.name in ("demo", "demo-clip")
                else ""
            )
        )
    backend = "torchvision" if importlib.util.find_spec("torchvision") else "pil"
    try:
        load_dtype = "float32" if dtype == "int8" else dtype
        model = AutoModel.from_pretrained(source, dtype=getattr(torch, load_dtype))
        tokenizer = AutoTokenizer.from_pretrained(source)
        image_processor = AutoImageProcessor.from_pretrained(source, backend=backend)
    except (OSError, ValueError, KeyError) as exc:
        hint = (
            "This machine is offline (HF_HUB_OFFLINE is set): download the checkpoint where there "
            "is a network, then pass its directory, or use the offline 'demo' preset."
            if os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
            else "Check the model id or directory; a directory must hold a checkpoint saved with "
            "save_pretrained() (config.json, weights, tokenizer and preprocessor files)."
        )
        raise ModelLoadError(f"could not load model {source!r}: {exc}. {hint}") from exc
    model_type = getattr(model.config, "model_type", "")
    if model_type not in ("siglip", "siglip2", "clip"):
        raise ModelLoadError(
            f"model {source!r} is a {model_type!r} checkpoint; siglip-retriever loads SigLIP, "
            "SigLIP 2 and CLIP checkpoints"
        )
    model = model.to(device).eval()
    if dtype == "int8":
        model = _quantize_int8(model)
    text_config = model.config.text_config
    vision_config = model.config.vision_config
    is_clip = model_type == "clip"
    image_size = int(getattr(vision_config, "image_size", 0) or 0)
    preset = with_facts(
        preset,
        family=model_type,
        score_kind="softmax" if is_clip else "sigmoid",
        text_length=int(text_config.max_position_embeddings),
        image_size=image_size,
    )
    dim = int(getattr(model.config, "projection_dim", 0) or text_config.hidden_size)
    logit_scale = float(model.logit_scale.detach().float().exp().item())
    bias = getattr(model, "logit_bias", None)
    logit_bias = float(bias.detach().float().item()) if bias is not None else 0.0
    log.info("loaded %s on %s (%s), %d-d vectors", source, device, dtype, dim)
    return _LoadedModel(
        preset=preset,
        model=model,
        tokenizer=tokenizer,
        image_processor=image_processor,
        device=device,
        dtype=dtype,
        dim=dim,
        logit_scale=logit_scale,
        logit_bias=logit_bias,
    )


def _features(output: Any) -> torch.Tensor:
    """``get_*_features`` returns a tensor in transformers 4 and a model output in 5."""
    import torch

    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if pooled is None:
        raise ModelLoadError("the model's get_*_features returned no pooled output")
    return pooled


def _normalise(features: torch.Tensor) -> Vectors:
    import torch

    vectors = features.float()
    vectors = vectors / torch.linalg.vector_norm(vectors, dim=-1, keepdim=True).clamp_min(1e-12)
    return vectors.cpu().numpy().astype(np.float32, copy=False)


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, str):
        raise InputTypeError(
            "encode_texts takes a list of strings, not one string; wrap it in a list or use "
            "encode_query(text)"
        )
    try:
        result = list(texts)  # type: ignore[call-overload]
    except TypeError:
        raise InputTypeError(f"expected a list of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(result):
        if not isinstance(text, str):
            raise InputTypeError(f"text {i} is {type(text).__name__}, not str; pass only strings")
    return result


class SiglipEncoder:
    """Encode texts and images into one L2-normalised vector space.

    Args:
        model: a preset name (``"multilingual"``, ``"demo"``, ...; see
            :mod:`siglip_retriever.presets`), a model-hub id or the directory of a checkpoint
            saved with ``save_pretrained``. ``None`` is the multilingual SigLIP.
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"`` (float16 on cuda, float32 elsewhere), ``"float32"``, ``"float16"``,
            ``"bfloat16"`` or ``"int8"``. On CPU float32 is several times faster than bfloat16.
            ``"int8"`` (CPU only; ``device="auto"`` then means the CPU) quantises every Linear
            layer dynamically: about 1.5x faster than float32 on AVX2 CPUs, with vectors at a
            cosine of about 0.999 to the float32 ones. It is loaded and cached apart from the
            float32 model.
        batch_size: how many texts or images go through the model at once.
        show_progress: show a progress bar on long encodes.
        query_cache_size: how many query vectors :meth:`encode_query` keeps (0 disables).
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).
        num_workers: threads that decode and preprocess the next batch of images while the
            model runs the current one. ``None``: 2 on CPU (at a lower priority than the
            model, so the forward pass keeps the cores), one per CPU core (up to 16) on a GPU.
            ``0`` decodes in the calling thread, one batch after the other.
        allow_urls: fetch images given as ``http(s)://`` URLs: ``True`` under the default
            :class:`~siglip_retriever.remote.UrlPolicy` (timeouts, a byte limit, bounded
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
        if device == "auto" and _DTYPES.get(str(dtype).lower()) == "int8":
            device = "cpu"  # int8 is a CPU mode
        resolved_device = _resolve_device(device)
        self._loaded = _load(preset, resolved_device, _resolve_dtype(dtype, resolved_device))
        self.num_workers = _default_workers(resolved_device) if num_workers is None else num_workers
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

        Texts are tokenised as the checkpoint was trained: padded to its text length
        (``padding="max_length"`` for SigLIP) and truncated beyond it. Any string works: an empty
        or blank text is encoded like any other (the model sees only its padding, and the vector
        is the same for every empty text), control characters and emoji go to the tokenizer as
        they are, and lone surrogates, which no tokenizer accepts, become U+FFFD.

        Raises:
            InputTypeError: ``texts`` is a single string, ``None``, or holds a non-string.
        """
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or self.batch_size
        parts = [
            self._encode_text_batch(items[start : start + size])
            for start in self._progress(range(0, len(items), size), len(items), size, show_progress, "texts")
        ]
        return np.concatenate(parts)

    def encode_query(self, text: str) -> Vectors:
        """Encode one text into a ``(dim,)`` vector, served from a small LRU cache when repeated.

        The returned array is read-only, since it may be shared with later calls.
        """
        if not isinstance(text, str):
            raise InputTypeError(f"a query must be a str, not {type(text).__name__}")
        if self._query_cache_size:
            with self._query_lock:
                cached = self._query_cache.get(text)
                if cached is not None:
                    self._query_cache.move_to_end(text)
                    return cached
        vector = self._encode_text_batch([text])[0]
        vector.setflags(write=False)
        if self._query_cache_size:
            with self._query_lock:
                self._query_cache[text] = vector
                while len(self._query_cache) > self._query_cache_size:
                    self._query_cache.popitem(last=False)
        return vector

    def encode_images(
        self,
        images: Sequence[ImageInput | PreparedImage],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> Vectors:
        """Encode images into an ``(N, dim)`` float32 array of unit vectors.

        Accepts every input :func:`siglip_retriever.images.load_image` accepts, and
        :class:`PreparedImage`, mixed freely. While the model runs one batch, worker threads
        decode and preprocess the next (see ``num_workers``); the vectors and their order are
        the same as with no workers.

        Raises:
            ImageLoadError: an input cannot be read; the message names it.
        """
        if isinstance(images, (str, bytes, os.PathLike, np.ndarray)) or hasattr(images, "mode"):
            raise InputTypeError("encode_images takes a list of images; wrap a single image in a list")
        items = list(images)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or self.batch_size
        batches = [items[start : start + size] for start in range(0, len(items), size)]
        parts = []
        prepared = self._prepared_batches(batches)
        steps = self._progress(range(0, len(items), size), len(items), size, show_progress, "images")
        try:
            for _start, batch in zip(steps, prepared, strict=True):
                parts.append(self._forward_images(batch))
        finally:
            prepared.close()
        return np.concatenate(parts)

    def load_image(self, image: ImageInput) -> Any:
        """Load one input as RGB PIL, decoding large JPEGs at reduced scale for this model."""
        return load_image(
            image,
            target_size=self.image_size or None,
            max_pixels=self.max_pixels,
            allow_urls=self.url_policy or False,
        )

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

    def probabilities(
        self, text_vectors: npt.ArrayLike, image_vectors: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Match probabilities, shaped ``(n_texts, n_images)``.

        For SigLIP: ``sigmoid(logit_scale * cos + logit_bias)``, each pair independent.
        For CLIP (``score_kind == "softmax"``): a softmax over the texts for each image.
        """
        cosine = self.cosine(text_vectors, image_vectors)
        if self.score_kind == "softmax":
            return softmax_probability(cosine, logit_scale=self.logit_scale, axis=0)
        return sigmoid_probability(cosine, logit_scale=self.logit_scale, logit_bias=self.logit_bias)

    @staticmethod
    def cosine(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Cosine similarities ``(len(a), len(b))`` of two sets of unit vectors."""
        left = np.atleast_2d(np.asarray(a, dtype=np.float64))
        right = np.atleast_2d(np.asarray(b, dtype=np.float64))
        if left.shape[-1] != right.shape[-1]:
            raise ConfigurationError(
                f"vector sizes differ ({left.shape[-1]} vs {right.shape[-1]}): were they made by "
                "the same model?"
            )
        return left @ right.T

    # -- internals -----------------------------------------------------------------------------

    def _progress(self, starts: range, total: int, size: int, show: bool | None, unit: str) -> Iterator[int]:
        if not (self.show_progress if show is None else show) or total <= size:
            yield from starts
            return
        from tqdm.auto import tqdm

        with tqdm(total=total, unit=unit.rstrip("s"), desc=f"encoding {unit}") as bar:
            for start in starts:
                yield start
                bar.update(min(size, total - start))

    def _encode_text_batch(self, texts: list[str]) -> Vectors:
        import torch

        loaded = self._loaded
        texts = [encodable_text(text) for text in texts]
        padding = "longest" if loaded.preset.family == "clip" else "max_length"
        with loaded.tokenizer_lock:
            inputs = loaded.tokenizer(
                texts,
                padding=padding,
                max_length=loaded.preset.text_length,
                truncation=True,
                return_tensors="pt",
            )
        # pass what the checkpoint's tokenizer returns, as the model card does: SigLIP's gives
        # no attention mask (its pads are real tokens), SigLIP 2's and CLIP's do
        inputs = {k: v.to(loaded.device) for k, v in inputs.items() if k != "token_type_ids"}
        with torch.inference_mode():
            return _normalise(_features(loaded.model.get_text_features(**inputs)))

    def _executor(self) -> ThreadPoolExecutor | None:
        """The shared decode threads of this encoder's device, or ``None`` without workers."""
        if self.num_workers <= 0:
            return None
        return _decode_pool(self.num_workers, low_priority=self.device == "cpu")

    def _submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run ``function(*args)`` in the decode threads, or now in this thread without workers."""
        pool = self._executor()
        if pool is not None:
            return pool.submit(function, *args)
        future: Future[_T] = Future()
        try:
            future.set_result(function(*args))
        except Exception as exc:  # handed to whoever asks for the result, as a pool does
            future.set_exception(exc)
        return future

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
            stacked = torch.from_numpy(np.concatenate([image.inputs[key] for image in prepared]))
            if on_gpu:  # pinned host memory: an asynchronous copy, overlapped with the launch
                stacked = stacked.pin_memory()
            moved = stacked.to(loaded.device, non_blocking=on_gpu)
            tensors[key] = moved.to(dtype) if moved.is_floating_point() else moved
        with torch.inference_mode():
            return _normalise(_features(loaded.model.get_image_features(**tensors)))

    def _encode_image_batch(self, images: list[Any]) -> Vectors:
        """Encode one batch of inputs in the calling thread (no workers)."""
        return self._forward_images([self.prepare_image(image) for image in images])


def _default_workers(device: str) -> int:
    cores = os.cpu_count() or 1
    if device == "cpu":
        return min(2, cores)
    return max(2, min(16, cores))


_POOLS: dict[tuple[int, bool], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:
    """In a forked child the parent's threads do not exist: start new pools there."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _lower_priority() -> None:
    """Run the calling (worker) thread at a lower priority, where the OS allows it (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(
                os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + _CPU_DECODE_NICENESS)
            )
        except OSError:  # pragma: no cover - a sandbox may refuse it; decoding works regardless
            pass


def _decode_pool(workers: int, *, low_priority: bool) -> ThreadPoolExecutor:
    """One pool of decode threads per (size, priority), shared by every encoder in the process."""
    key = (workers, low_priority)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=workers,
                thread_name_prefix="siglip-decode",
                initializer=_lower_priority if low_priority else None,
            )
            _POOLS[key] = pool
        return pool
