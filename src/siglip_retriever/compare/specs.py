"""The models of a comparison: reading ``MODEL`` and ``LABEL=MODEL`` names, checking them early.

Example:
    >>> from siglip_retriever.compare.specs import parse_model_specs
    >>> [(s.label, s.model) for s in parse_model_specs("demo, mine=/tmp/ckpt")]
    [('demo', 'demo'), ('mine', '/tmp/ckpt')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from siglip_retriever.errors import ConfigurationError

__all__ = ["ModelSpec", "check_model_name", "parse_model_specs"]

_LABEL = re.compile(r"[\w.-]+")


@dataclass(frozen=True)
class ModelSpec:
    """One model of a comparison: the column label and what to load.

    Attributes:
        label: the name shown in tables and charts.
        model: a preset, hub id, checkpoint directory or ``open_clip:`` name.

    Example:
        >>> ModelSpec("mine", "/models/siglip").label
        'mine'
    """

    label: str
    model: str


def parse_model_specs(models: str | Sequence[str]) -> list[ModelSpec]:
    """Read model names: a comma-separated string or a list, each ``MODEL`` or ``LABEL=MODEL``.

    Without a label, a preset or hub id is its own label and a directory its folder name.

    Raises:
        ConfigurationError: no model, an empty name, or two models with the same label.

    Example:
        >>> [(s.label, s.model) for s in parse_model_specs("demo, mine=/tmp/ckpt")]
        [('demo', 'demo'), ('mine', '/tmp/ckpt')]
    """
    items = models.split(",") if isinstance(models, str) else list(models)
    specs = []
    for raw in items:
        text = str(raw).strip()
        if not text:
            if isinstance(models, str) and len(items) > 1:
                continue  # "a,b," and "a,,b" are typing slips, not models
            raise ConfigurationError("a model name is empty")
        label, sep, model = text.partition("=")
        if sep and _LABEL.fullmatch(label.strip()) and model.strip() and not Path(text).exists():
            specs.append(ModelSpec(label.strip(), model.strip()))
            continue
        specs.append(ModelSpec(_default_label(text), text))
    if not specs:
        raise ConfigurationError("give at least one model to compare")
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.label in seen:
            raise ConfigurationError(
                f"two models are labelled {spec.label!r} ({seen[spec.label]} and {spec.model}); "
                "name them with LABEL=MODEL, such as a=/models/x,b=/other/x"
            )
        seen[spec.label] = spec.model
    return specs


def _default_label(model: str) -> str:
    from siglip_retriever.encoding.backends import is_open_clip
    from siglip_retriever.encoding.presets import PRESETS

    if model in PRESETS or is_open_clip(model):
        return model
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name or model
    return model


def check_model_name(model: str) -> None:
    """Refuse a name that names no model, before any model of the comparison is loaded.

    Raises:
        UnknownPresetError: ``model`` is not a preset, directory or hub id.
        ConfigurationError: a malformed ``open_clip:`` name.

    Example:
        >>> check_model_name("demo")
    """
    from siglip_retriever.encoding.backends import is_open_clip

    if is_open_clip(model):
        from siglip_retriever.encoding.backends.open_clip import parse_open_clip_id

        parse_open_clip_id(model)
    else:
        from siglip_retriever.encoding.presets import resolve_model

        resolve_model(model)
