"""The open_clip backend: NLLB-CLIP and other open_clip models behind the encoder interface.

open_clip (``pip install 'siglip-retriever[open-clip]'``, the ``open_clip_torch`` package) is
imported only when an :class:`OpenClipEncoder` is created. Models are named as open_clip names
them, after an ``open_clip:`` prefix:

- ``open_clip:ViT-B-32/laion2b_s34b_b79k``: an architecture and its pretrained tag (or a
  weights file), as ``open_clip.create_model_and_transforms("ViT-B-32", "laion2b_s34b_b79k")``;
- ``open_clip:nllb-clip-base-siglip/v1``: NLLB-CLIP with a SigLIP vision tower;
- ``open_clip:hf-hub:visheratin/nllb-clip-base-siglip``: a model-hub repository;
- ``open_clip:local-dir:/path/to/model``: a folder saved in open_clip's hub layout.

A model with a ``logit_bias`` (SigLIP-style training) scores with a sigmoid, others with a
softmax. NLLB tokenizers mark each text with its language: :meth:`OpenClipEncoder.encode_texts`
takes the language (``"fr"`` or NLLB's own ``"fra_Latn"``), English by default.

Example:
    >>> from siglip_retriever.encoding.backends.open_clip import parse_open_clip_id
    >>> parse_open_clip_id("open_clip:ViT-B-32/laion2b_s34b_b79k")
    ('ViT-B-32', 'laion2b_s34b_b79k')
    >>> parse_open_clip_id("open_clip:hf-hub:visheratin/nllb-clip-base-siglip")
    ('hf-hub:visheratin/nllb-clip-base-siglip', None)
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.encoding.backends import pair_probabilities
from siglip_retriever.encoding.batching import batches, joined
from siglip_retriever.encoding.images import DEFAULT_MAX_PIXELS, ImageInput, image_list, load_image
from siglip_retriever.encoding.scores import ScoreKind
from siglip_retriever.encoding.texts import text_list
from siglip_retriever.errors import (
    ConfigurationError,
    MissingDependencyError,
    ModelLoadError,
)

__all__ = ["FLORES_CODES", "OpenClipEncoder", "import_open_clip", "parse_open_clip_id"]

Vectors = npt.NDArray[np.float32]

PREFIX = "open_clip:"

FLORES_CODES: dict[str, str] = {
    "ar": "arb_Arab",
    "cs": "ces_Latn",
    "de": "deu_Latn",
    "el": "ell_Grek",
    "en": "eng_Latn",
    "es": "spa_Latn",
    "fa": "pes_Arab",
    "fi": "fin_Latn",
    "fr": "fra_Latn",
    "he": "heb_Hebr",
    "hi": "hin_Deva",
    "id": "ind_Latn",
    "it": "ita_Latn",
    "ja": "jpn_Jpan",
    "ko": "kor_Hang",
    "nl": "nld_Latn",
    "pl": "pol_Latn",
    "pt": "por_Latn",
    "ru": "rus_Cyrl",
    "sv": "swe_Latn",
    "th": "tha_Thai",
    "tr": "tur_Latn",
    "uk": "ukr_Cyrl",
    "vi": "vie_Latn",
    "zh": "zho_Hans",
}
"""ISO 639-1 codes -> the FLORES-200 codes NLLB tokenizers take (``fr`` -> ``fra_Latn``)."""

_FLORES = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_PRECISIONS = {
    "float32": "fp32",
    "fp32": "fp32",
    "float16": "fp16",
    "fp16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "bf16": "bf16",
}


def parse_open_clip_id(name: str) -> tuple[str, str | None]:
    """Split an open_clip model name into open_clip's ``(model_name, pretrained)``.

    The ``open_clip:`` prefix is optional here. ``hf-hub:`` and ``local-dir:`` names carry their
    own weights, so their ``pretrained`` is ``None``; otherwise the part after the first ``/``
    is the pretrained tag or weights file (``None`` when there is none: random weights).

    Raises:
        ConfigurationError: the name is empty or malformed.
    """
    text = name.strip()
    if text.startswith(PREFIX):
        text = text[len(PREFIX) :].strip()
    if not text:
        raise ConfigurationError(
            "the open_clip model name is empty; write it as open_clip:ARCH/PRETRAINED "
            "(open_clip:ViT-B-32/laion2b_s34b_b79k) or open_clip:hf-hub:ORG/NAME"
        )
    if text.startswith("hf-hub:"):
        repo = text[len("hf-hub:") :]
        if not _HUB_ID.fullmatch(repo):
            raise ConfigurationError(f"{name!r}: after 'hf-hub:' comes a model-hub id such as ORG/NAME")
        return text, None
    if text.startswith("local-dir:"):
        if not text[len("local-dir:") :].strip():
            raise ConfigurationError(f"{name!r}: after 'local-dir:' comes a folder")
        return text, None
    model, slash, pretrained = text.partition("/")
    if not model.strip() or (slash and not pretrained.strip()):
        raise ConfigurationError(
            f"{name!r} is not an open_clip model name; write ARCH/PRETRAINED, such as "
            "open_clip:ViT-B-32/laion2b_s34b_b79k"
        )
    return model.strip(), pretrained.strip() or None


def import_open_clip() -> Any:
    """Import open_clip, or explain what is missing.

    Raises:
        MissingDependencyError: open_clip is not installed.
        ModelLoadError: it is installed but fails to import (usually a torchvision that was not
            built for the installed torch).
    """
    if importlib.util.find_spec("open_clip") is None:
        raise MissingDependencyError("open_clip_torch", "open-clip", "open_clip models")
    try:
        import open_clip
    except Exception as exc:  # torchvision built for another torch fails with a RuntimeError
        raise ModelLoadError(
            f"open_clip is installed but cannot be imported ({type(exc).__name__}: {exc}). open_clip "
            "imports torchvision, which must be the release built for the installed torch: install "
            "matching torch and torchvision versions."
        ) from exc
    return open_clip


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if device.split(":", 1)[0] not in ("cpu", "cuda", "mps"):
        raise ConfigurationError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'mps', not {device!r}")
    return device


def _precision(dtype: str, device: str) -> str:
    if dtype == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    precision = _PRECISIONS.get(str(dtype).lower().removeprefix("torch."))
    if precision is None:
        raise ConfigurationError(
            f"open_clip models take dtype 'auto', 'float32', 'float16' or 'bfloat16', not {dtype!r}"
        )
    return precision


def _flores(language: str) -> str:
    if _FLORES.fullmatch(language):
        return language
    code = FLORES_CODES.get(language.lower().split("-", 1)[0].split("_", 1)[0])
    if code is None:
        raise ConfigurationError(
            f"no NLLB language code is known for {language!r}; pass the FLORES-200 code itself "
            "(such as 'fra_Latn')"
        )
    return code


class OpenClipEncoder:
    """An open_clip model with the interface of :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`.

    Args:
        model: an open_clip model name, with or without the ``open_clip:`` prefix (see
            :func:`parse_open_clip_id`).
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda[:N]"`` or ``"mps"``.
        dtype: ``"auto"`` (float16 on cuda, else float32), ``"float32"``, ``"float16"`` or
            ``"bfloat16"``, as open_clip's ``precision``.
        batch_size: texts or images per forward pass.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).
        language: the texts' default language for NLLB tokenizers (``"en"``).

    Raises:
        MissingDependencyError: open_clip is not installed.
        ModelLoadError: open_clip cannot be imported, or the model cannot be loaded.
        ConfigurationError: a malformed name or an impossible option.

    Example:
        Where open_clip is installed and the weights can be downloaded::

            encoder = OpenClipEncoder("open_clip:hf-hub:visheratin/nllb-clip-base-siglip")
            encoder.score_kind  # 'sigmoid': NLLB-CLIP-SigLIP has a logit bias
            encoder.encode_texts(["un chat"], language="fr").shape  # (1, 768)

        The name is checked before open_clip is imported:

        >>> from siglip_retriever.encoding.backends.open_clip import OpenClipEncoder
        >>> from siglip_retriever.errors import ConfigurationError
        >>> try:
        ...     OpenClipEncoder("open_clip:ViT-B-32/")
        ... except ConfigurationError as exc:
        ...     print(str(exc).split(";")[0])
        'open_clip:ViT-B-32/' is not an open_clip model name
    """

    accepts_language = True
    """:meth:`encode_texts` takes ``language=``; the comparison passes each caption's language."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        language: str = "en",
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
        model_name, pretrained = parse_open_clip_id(model)
        open_clip = import_open_clip()
        resolved = _resolve_device(device)
        precision = _precision(dtype, resolved)
        try:
            network, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, device=resolved, precision=precision
            )
            tokenizer = open_clip.get_tokenizer(model_name)
        except Exception as exc:  # open_clip raises RuntimeError, OSError, ValueError, hub errors
            offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
            if isinstance(exc, ImportError):
                hint = "This model needs the package named above: install it."
            elif offline:
                hint = (
                    "This machine is offline (HF_HUB_OFFLINE is set): download the weights where there "
                    "is a network, then pass a weights file or open_clip:local-dir:FOLDER."
                )
            else:
                hint = "Check the name with open_clip.list_pretrained()."
            raise ModelLoadError(f"could not load open_clip model {model!r}: {exc}. {hint}") from exc
        self._name = PREFIX + (model_name if pretrained is None else f"{model_name}/{pretrained}")
        self._model = network.eval()
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._input_dtype = open_clip.get_input_dtype(precision)
        self._device = resolved
        self._lock = threading.Lock()
        inner = getattr(tokenizer, "tokenizer", None)  # open_clip's HFTokenizer wraps a transformers one
        self._sets_language = hasattr(inner, "src_lang") or callable(getattr(tokenizer, "set_lang_fn", None))
        self.language = _flores(language) if self._sets_language else language
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        scale = network.logit_scale
        self._logit_scale = float(scale.detach().float().exp().reshape(-1)[0].item())
        bias = getattr(network, "logit_bias", None)
        self._logit_bias = float(bias.detach().float().reshape(-1)[0].item()) if bias is not None else 0.0
        self._score_kind: ScoreKind = "sigmoid" if bias is not None else "softmax"
        size = getattr(getattr(network, "visual", None), "image_size", 0) or 0
        self._image_size = int(max(size) if isinstance(size, (tuple, list)) else size)
        self._dim = int(self.encode_texts(["a"]).shape[1])

    # -- facts (the ImageTextEncoder protocol) ---------------------------------------------------

    @property
    def model_id(self) -> str:
        """The model's name, ``open_clip:`` prefix included."""
        return self._name

    @property
    def family(self) -> str:
        """Always ``"open_clip"``."""
        return "open_clip"

    @property
    def score_kind(self) -> ScoreKind:
        """``"sigmoid"`` when the model has a ``logit_bias`` (SigLIP-style), else ``"softmax"``."""
        return self._score_kind

    @property
    def dim(self) -> int:
        """The size of every vector."""
        return self._dim

    @property
    def logit_scale(self) -> float:
        """The multiplier of cosine similarities (``exp`` of the stored parameter)."""
        return self._logit_scale

    @property
    def logit_bias(self) -> float:
        """The learned bias (0 without one)."""
        return self._logit_bias

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return self._device

    @property
    def image_size(self) -> int:
        """The model's input side in pixels."""
        return self._image_size

    @property
    def model(self) -> Any:
        """The underlying open_clip model."""
        return self._model

    def __repr__(self) -> str:
        return f"OpenClipEncoder(model={self._name!r}, device={self._device!r})"

    # -- encoding --------------------------------------------------------------------------------

    def encode_texts(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
        language: str | None = None,
    ) -> Vectors:
        """Encode texts into an ``(N, dim)`` float32 array of unit vectors.

        Args:
            texts: the texts.
            batch_size: texts per forward pass (default: the encoder's).
            show_progress: accepted for interface parity; open_clip encodes without a bar.
            language: the texts' language, for NLLB tokenizers (``"fr"`` or ``"fra_Latn"``);
                ignored by tokenizers that take none.

        Raises:
            InputTypeError: ``texts`` is one string or holds a non-string.
        """
        import torch

        items = text_list(texts)
        parts = []
        with self._lock:  # the NLLB language is tokenizer state
            if self._sets_language and items:
                self._set_language(_flores(language) if language else self.language)
            for part in batches(items, batch_size or self.batch_size):
                tokens = self._tokenizer(part).to(self._device)
                with torch.inference_mode():
                    features = self._model.encode_text(tokens, normalize=True)
                parts.append(features.float().cpu().numpy())
        return joined(parts, dim=getattr(self, "_dim", 0))

    def _set_language(self, code: str) -> None:
        """Mark the next texts with NLLB language ``code`` (the tokenizer's lock is held)."""
        inner: Any = getattr(self._tokenizer, "tokenizer", None)
        if hasattr(inner, "src_lang"):
            # the src_lang setter updates the language token; open_clip's set_language calls
            # set_src_lang_special_tokens, which transformers 5 tokenizers ignore when encoding
            inner.src_lang = code
        else:
            self._tokenizer.set_language(code)

    def encode_images(
        self,
        images: Sequence[ImageInput],
        *,
        batch_size: int | None = None,
        show_progress: bool | None = None,
    ) -> Vectors:
        """Encode images (any input :func:`~siglip_retriever.encoding.images.load_image` takes).

        Raises:
            ImageLoadError: an input cannot be read; the message names it.
        """
        import torch

        parts = []
        for part in batches(image_list(images), batch_size or self.batch_size):
            pictures = [
                load_image(item, target_size=self._image_size or None, max_pixels=self.max_pixels)
                for item in part
            ]
            pixels = torch.stack([self._preprocess(picture) for picture in pictures])
            pixels = pixels.to(device=self._device, dtype=self._input_dtype)
            with torch.inference_mode():
                features = self._model.encode_image(pixels, normalize=True)
            parts.append(features.float().cpu().numpy())
        return joined(parts, dim=self.dim)

    def probabilities(
        self, text_vectors: npt.ArrayLike, image_vectors: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Match probabilities ``(n_texts, n_images)``: sigmoid per pair, or a softmax over the texts."""
        return pair_probabilities(self, text_vectors, image_vectors)
