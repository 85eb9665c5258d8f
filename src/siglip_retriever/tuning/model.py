"""The model a fine-tuning run trains: a fresh copy of the base checkpoint, the parameters that
train, and the checkpoint it is saved as.

- :func:`load_base` loads the base model (a preset, a directory or a hub id) outside the encoders'
  shared cache, in float32;
- :func:`select_trainable` leaves every parameter trainable (``"all"``), only the last ``layers``
  of each tower with the heads, final norms, temperature and bias (``"last"``), or wraps the model
  with LoRA adapters on the attention and MLP matrices of every layer (``"lora"``, through
  ``peft``: ``pip install 'siglip-retriever[finetune]'``);
- :func:`save_checkpoint` merges LoRA adapters into the weights and writes a ``save_pretrained``
  checkpoint (model, tokenizer, image processor) that ``SiglipEncoder(DIR)`` and ``--model DIR``
  load.

Example:
    >>> from siglip_retriever.tuning.model import load_base, select_trainable
    >>> base = load_base("demo", "cpu")
    >>> model = select_trainable(base.model, "last", layers=1, lora_rank=8, lora_alpha=16, seed=0)
    >>> trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    >>> "logit_bias" in trainable, any(".layers.0." in n for n in trainable)
    (True, False)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import MissingDependencyError

if TYPE_CHECKING:
    from siglip_retriever.encoding.loading import LoadedModel

__all__ = ["LORA_TARGETS", "count_parameters", "load_base", "save_checkpoint", "select_trainable"]

LORA_TARGETS = r".*encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.fc1|mlp\.fc2)"
"""The matrices LoRA adapts: attention and MLP of every transformer layer of both towers."""

_LAYER = re.compile(r"(?P<tower>\w+_model)\.encoder\.layers\.(?P<index>\d+)\.")


def load_base(model: str | None, device: str) -> LoadedModel:
    """A fresh float32 copy of ``model`` on ``device``, in train mode, with its tokenizer and
    image processor (the encoders' cached copy is not touched).

    Raises:
        ModelLoadError: the checkpoint cannot be loaded.
        UnknownPresetError: ``model`` is no preset, directory or hub id.
    """
    from siglip_retriever.encoding.loading import load_uncached, resolve_device
    from siglip_retriever.encoding.presets import resolve_model

    loaded = load_uncached(resolve_model(model), resolve_device(device), "float32")
    loaded.model.train()
    return loaded


def select_trainable(
    model: Any, train: str, *, layers: int, lora_rank: int, lora_alpha: int, seed: int
) -> Any:
    """``model`` with only the parameters of ``train`` trainable (see the module's docstring); the
    LoRA-wrapped model for ``"lora"``.

    Raises:
        MissingDependencyError: ``"lora"`` without ``peft`` installed.
    """
    if train == "all":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return model
    if train == "last":
        depth = _tower_depths(model)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(_in_last_layers(name, depth, layers))
        return model
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise MissingDependencyError("peft", "finetune", "LoRA fine-tuning") from exc
    import torch

    torch.manual_seed(seed)
    config = LoraConfig(r=lora_rank, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules=LORA_TARGETS)
    wrapped = get_peft_model(model, config)
    for name, parameter in wrapped.named_parameters():
        if name.endswith(("logit_scale", "logit_bias")):
            parameter.requires_grad_(True)
    return wrapped


def _tower_depths(model: Any) -> dict[str, int]:
    """The number of transformer layers of each tower."""
    depths: dict[str, int] = {}
    for name, _ in model.named_parameters():
        match = _LAYER.search(name)
        if match:
            depths[match["tower"]] = max(depths.get(match["tower"], 0), int(match["index"]) + 1)
    return depths


def _in_last_layers(name: str, depth: dict[str, int], layers: int) -> bool:
    """Whether ``name`` trains with ``train="last"``: in the last ``layers`` of its tower, or after
    the layers (final norms, heads, projections, temperature, bias)."""
    match = _LAYER.search(name)
    if match:
        return int(match["index"]) >= depth[match["tower"]] - layers
    return ".embeddings." not in name and "embedding" not in name.rsplit(".", 2)[0]


def count_parameters(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)


def save_checkpoint(model: Any, loaded: LoadedModel, out: Path) -> Any:
    """Save ``model`` (LoRA adapters merged into its weights) with the base's tokenizer and image
    processor as a ``save_pretrained`` checkpoint in ``out``; returns the plain model saved."""
    plain = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    out.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out)
    loaded.tokenizer.save_pretrained(out)
    loaded.image_processor.save_pretrained(out)
    return plain
