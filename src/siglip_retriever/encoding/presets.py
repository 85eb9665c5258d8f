"""Named checkpoints and the facts they carry.

A preset maps a short name to a checkpoint (a model-hub id or a directory shipped inside this
package) together with what a user needs to know about it: its family
(:mod:`~siglip_retriever.encoding.families`, which says whether its scores are independent
sigmoid probabilities (SigLIP) or need a softmax over candidates (CLIP)), its text length and
image size, and whether it understands languages other than English.

The facts are documentation: when a checkpoint is loaded, the encoder reads the true text length
and image size from the checkpoint's own configuration.

Example:
    >>> from siglip_retriever.encoding.presets import resolve_model, PRESETS
    >>> PRESETS["multilingual"].model_id
    'google/siglip-base-patch16-256-multilingual'
    >>> resolve_model("multilingual").score_kind
    'sigmoid'
    >>> resolve_model("org/some-model").model_id
    'org/some-model'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.encoding.families import FAMILIES, family_guessed, family_named
from siglip_retriever.errors import UnknownPresetError

if TYPE_CHECKING:
    from siglip_retriever.encoding.scores import ScoreKind

__all__ = ["DEFAULT_MODEL", "PRESETS", "Preset", "resolve_model"]

DEFAULT_MODEL = "multilingual"
"""The preset used when no model is named: multilingual SigLIP from the model hub."""

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


@dataclass(frozen=True)
class Preset:
    """A checkpoint and its facts.

    Attributes:
        name: the preset name, or the id/path itself for checkpoints that are not presets.
        model_id: what ``from_pretrained`` receives: a hub id or a local directory.
        family: the name of its :class:`~siglip_retriever.encoding.families.Family`
            (``"siglip"``, ``"siglip2"``, ``"clip"``).
        text_length: tokens per text the checkpoint was trained with (0 when unknown).
        image_size: input resolution in pixels (0 when unknown or variable).
        multilingual: whether texts in many languages are supported.
        description: one line for ``siglip-retriever info`` and the README.
    """

    name: str
    model_id: str
    family: str = "siglip"
    text_length: int = 64
    image_size: int = 224
    multilingual: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        family_named(self.family)  # an unknown family is refused here, not at first use

    @property
    def score_kind(self) -> ScoreKind:
        """``"sigmoid"`` (independent probabilities) or ``"softmax"``: its family's."""
        return FAMILIES[self.family].score_kind

    @property
    def reference(self) -> str:
        """A name that loads this checkpoint again: the preset name, else the id or directory.

        Preset names stay valid when the package moves (the ``demo`` preset lives inside it), so
        they are what stores and serialised configurations record.
        """
        preset = PRESETS.get(self.name)
        return self.name if preset is not None and preset.model_id == self.model_id else self.model_id

    @property
    def is_local(self) -> bool:
        """True when ``model_id`` is a directory on this machine."""
        return Path(self.model_id).is_dir()


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "multilingual",
            "google/siglip-base-patch16-256-multilingual",
            image_size=256,
            multilingual=True,
            description="SigLIP B/16 256px, multilingual (the default)",
        ),
        Preset(
            "i18n",
            "google/siglip-base-patch16-256-i18n",
            image_size=256,
            multilingual=True,
            description="SigLIP B/16 256px, i18n checkpoint of the seed projects",
        ),
        Preset(
            "base",
            "google/siglip-base-patch16-224",
            description="SigLIP B/16 224px, English",
        ),
        Preset(
            "so400m",
            "google/siglip-so400m-patch14-384",
            image_size=384,
            description="SigLIP shape-optimised 400M, 384px, English, most accurate",
        ),
        Preset(
            "siglip2-base",
            "google/siglip2-base-patch16-224",
            family="siglip2",
            multilingual=True,
            description="SigLIP 2 B/16 224px, multilingual",
        ),
        Preset(
            "siglip2-so400m",
            "google/siglip2-so400m-patch14-384",
            family="siglip2",
            image_size=384,
            multilingual=True,
            description="SigLIP 2 so400m 384px, multilingual",
        ),
        Preset(
            "clip",
            "openai/clip-vit-base-patch32",
            family="clip",
            text_length=77,
            description="OpenAI CLIP B/32, English, for comparison",
        ),
        Preset(
            "demo",
            str(_PACKAGE_DIR / "demo" / "model"),
            text_length=12,
            image_size=40,
            multilingual=True,
            description="tiny SigLIP trained here on synthetic shapes; works offline",
        ),
        Preset(
            "demo-clip",
            str(_PACKAGE_DIR / "demo" / "model_clip"),
            family="clip",
            text_length=12,
            image_size=40,
            multilingual=True,
            description="the demo's CLIP twin: same size and data, softmax loss; for comparisons",
        ),
    )
}


def resolve_model(name: str | os.PathLike[str] | None = None) -> Preset:
    """Resolve a preset name, a local directory or a hub id to a :class:`Preset`.

    Args:
        name: a preset name (see :data:`PRESETS`), a directory holding a checkpoint saved with
            ``save_pretrained``, or a model-hub id such as ``google/siglip-base-patch16-224``.
            ``None`` means :data:`DEFAULT_MODEL`.

    Raises:
        UnknownPresetError: ``name`` is none of the above.
    """
    if name is None:
        name = DEFAULT_MODEL
    text = os.fspath(name)
    if not text.strip():
        raise UnknownPresetError("the model name is empty; pass a preset, a directory or a hub id")
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text).expanduser()
    if path.is_dir():
        return Preset(name=text, model_id=str(path.resolve()), **_guess_facts(text))
    if not _HUB_ID.fullmatch(text):
        known = ", ".join(sorted(PRESETS))
        raise UnknownPresetError(
            f"unknown model {text!r}: not a preset ({known}), not a local directory and not a "
            "model-hub id of the form 'org/name'. Pick a preset, pass the directory of a "
            "checkpoint saved with save_pretrained(), or a hub id."
        )
    return Preset(name=text, model_id=text, **_guess_facts(text))


def _guess_facts(model_id: str) -> dict[str, Any]:
    """Facts guessed from a checkpoint's name; the loaded config has the final word."""
    family = family_guessed(model_id)
    lowered = model_id.lower()
    return {
        "family": family.name,
        "text_length": family.text_length,
        "multilingual": family.multilingual or any(m in lowered for m in ("multilingual", "i18n")),
    }


def with_facts(preset: Preset, **facts: object) -> Preset:
    """Return a copy of ``preset`` with facts read from a loaded checkpoint."""
    return replace(preset, **facts)  # type: ignore[arg-type]
