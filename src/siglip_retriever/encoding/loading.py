"""Load a checkpoint once per process: device and dtype choice, int8, the model cache.

:func:`load_model` turns a :class:`~siglip_retriever.encoding.presets.Preset`, a device and a
dtype into a :class:`LoadedModel`: the transformers model, its tokenizer and image processor, and
the facts read from the checkpoint's own configuration (its
:class:`~siglip_retriever.encoding.families.Family` by ``model_type``, text length, vector size,
logit scale and bias). Loading the same ``(model_id, device, dtype)`` twice in one process
returns the model that is already in memory, so every encoder and adapter of one checkpoint
shares it.

Example:
    >>> import tempfile
    >>> from siglip_retriever.encoding.loading import load_model, resolve_dtype
    >>> from siglip_retriever.encoding.presets import resolve_model
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> preset = resolve_model(build_checkpoint(tempfile.mkdtemp()))
    >>> loaded = load_model(preset, "cpu", resolve_dtype("auto", "cpu"))
    >>> loaded.dim, loaded.dtype, load_model(preset, "cpu", "float32") is loaded
    (32, 'float32', True)
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from siglip_retriever.encoding.families import FAMILIES, Family, family_named, family_of_model_type
from siglip_retriever.encoding.presets import Preset, with_facts
from siglip_retriever.errors import ConfigurationError, ModelLoadError

__all__ = [
    "LoadedModel",
    "canonical_dtype",
    "clear_model_cache",
    "forget_models",
    "load_counts",
    "load_model",
    "load_uncached",
    "loaded_models",
    "resolve_device",
    "resolve_dtype",
]

log = logging.getLogger(__name__)

_DTYPE_NAMES = {
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


@dataclass
class LoadedModel:
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

    @property
    def family(self) -> Family:
        """The rules of the checkpoint's family: tokenisation, scores, the loss that trains it."""
        return family_named(self.preset.family)

    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """``texts`` as the model takes them, on its device: the family's
        :meth:`~siglip_retriever.encoding.families.Family.tokenize` at the checkpoint's text length.

        What the encoder and fine-tuning both feed ``get_text_features``; thread-safe.
        """
        with self.tokenizer_lock:
            inputs = self.family.tokenize(self.tokenizer, texts, self.preset.text_length)
        return {key: value.to(self.device) for key, value in inputs.items()}


def canonical_dtype(dtype: str) -> str | None:
    """The canonical name of a dtype (``"fp16"`` -> ``"float16"``); ``None`` for ``"auto"`` or unknown."""
    return _DTYPE_NAMES.get(str(dtype).lower().removeprefix("torch."))


_CACHE: dict[tuple[str, str, str], LoadedModel] = {}
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


def resolve_device(device: str) -> str:
    """``"auto"`` -> the best device present (cuda, then mps, then cpu); others are checked."""
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


def resolve_dtype(dtype: str, device: str) -> str:
    """``"auto"`` -> float16 on cuda, float32 elsewhere; aliases (``"fp16"``) -> canonical names."""
    if dtype == "auto":
        return "float16" if device.startswith("cuda") else "float32"
    name = canonical_dtype(dtype)
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
    channel), activations quantised on the fly; the speed-up depends on the CPU (BENCHMARKS.md, int8)."""
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


def load_model(preset: Preset, device: str, dtype: str) -> LoadedModel:
    """The model of ``preset`` on ``device`` in ``dtype`` (resolved names), loaded once per process.

    Raises:
        ModelLoadError: the checkpoint cannot be found or loaded, or is of no known family
            (:data:`~siglip_retriever.encoding.families.FAMILIES`).
    """
    key = (preset.model_id, device, dtype)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        loaded = load_uncached(preset, device, dtype)
        _CACHE[key] = loaded
        _LOADS[key] += 1
        return loaded


def load_uncached(preset: Preset, device: str, dtype: str) -> LoadedModel:
    """A new copy of the model of ``preset``, outside the cache: one to modify (fine-tuning) without
    touching the model every encoder shares. In eval mode, like the cached ones.

    Raises:
        ModelLoadError: as :func:`load_model`.
    """
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
    family = family_of_model_type(model_type)
    if family is None:
        accepted = ", ".join(repr(kind) for known in FAMILIES.values() for kind in known.model_types)
        raise ModelLoadError(
            f"model {source!r} is a {model_type!r} checkpoint; siglip-retriever loads the model "
            f"types {accepted}: pass a SigLIP, SigLIP 2 or CLIP checkpoint"
        )
    model = model.to(device).eval()
    if dtype == "int8":
        model = _quantize_int8(model)
    text_config = model.config.text_config
    vision_config = model.config.vision_config
    preset = with_facts(
        preset,
        family=family.name,
        text_length=int(text_config.max_position_embeddings),
        image_size=0 if family.variable_resolution else int(getattr(vision_config, "image_size", 0) or 0),
    )
    dim = int(getattr(model.config, "projection_dim", 0) or text_config.hidden_size)
    logit_scale = float(model.logit_scale.detach().float().exp().item())
    bias = getattr(model, "logit_bias", None)
    logit_bias = float(bias.detach().float().item()) if bias is not None else 0.0
    log.info("loaded %s on %s (%s), %d-d vectors", source, device, dtype, dim)
    return LoadedModel(
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
