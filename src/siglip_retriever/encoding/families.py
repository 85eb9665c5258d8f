"""Model families: what each kind of transformers checkpoint needs, written once.

A :class:`Family` holds every rule that differs between SigLIP, SigLIP 2 and CLIP: the
transformers ``model_type`` it loads, how its texts are tokenised and padded, what its image
processor does, what its scores mean, and which loss trains it. Loading
(:mod:`~siglip_retriever.encoding.loading`), the presets, the encoder, fine-tuning
(:mod:`siglip_retriever.tuning`) and the demo's training all read them from here, so a new family
is one :class:`Family` in :data:`FAMILIES` and one preset in
:mod:`~siglip_retriever.encoding.presets` (and, for its tests, a tiny checkpoint in
:mod:`siglip_retriever.tiny`). What every family shares stays out of it: a transformers model with
``get_text_features``, ``get_image_features`` and ``logit_scale``, its facts in ``text_config`` and
``vision_config``, and towers laid out as ``*_model.encoder.layers.N`` (what fine-tuning's
``--train last`` and LoRA select).

Example:
    >>> from siglip_retriever.encoding.families import family_named, family_of_model_type
    >>> family_named("siglip").padding, family_named("clip").padding
    ('max_length', 'longest')
    >>> family_of_model_type("siglip2").score_kind
    'sigmoid'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from siglip_retriever.encoding.texts import encodable_text
from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from siglip_retriever.encoding.scores import ScoreKind

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Family", "family_guessed", "family_named", "family_of_model_type"]


@dataclass(frozen=True)
class Family:
    """The rules of one family of checkpoints.

    Attributes:
        name: what :attr:`Preset.family <siglip_retriever.encoding.presets.Preset.family>` and
            ``SiglipEncoder.family`` say (``"siglip"``); a model id that holds it (and no longer
            family name) is guessed to be of this family.
        model_types: the transformers ``config.model_type`` values it loads.
        score_kind: ``"sigmoid"`` (each pair's probability on its own) or ``"softmax"`` (scores
            that only mean something against the other candidates).
        loss: the key of the loss that trains it in :data:`siglip_retriever.losses.LOSSES`.
        padding: the tokenizer's ``padding``: ``"max_length"`` for SigLIP, whose text tower was
            trained on texts padded to its full length (other padding gives other vectors), or
            ``"longest"`` where the attention mask hides the padding.
        text_length: tokens per text of the released checkpoints, when a checkpoint's own
            configuration is not read yet.
        attention_mask: whether the family's own tokenizer returns an attention mask; released
            SigLIP checkpoints return none (the text tower attends to its pads).
        variable_resolution: images keep their aspect ratio as a number of patches (SigLIP 2),
            rather than being resized to one square side.
        multilingual: every checkpoint of the family reads many languages.
        max_logit_scale: training clamps the log-temperature at this bound (CLIP: ``log 100``);
            ``None``: no bound.
        preprocessing: what the checkpoint's image processor does, in one line.

    Example:
        >>> from siglip_retriever.encoding.families import FAMILIES
        >>> clip = FAMILIES["clip"]
        >>> clip.model_types, clip.score_kind, clip.loss
        (('clip',), 'softmax', 'softmax')
    """

    name: str
    model_types: tuple[str, ...]
    score_kind: ScoreKind
    loss: str
    padding: Literal["max_length", "longest"]
    text_length: int
    attention_mask: bool
    variable_resolution: bool = False
    multilingual: bool = False
    max_logit_scale: float | None = None
    preprocessing: str = ""

    @property
    def has_bias(self) -> bool:
        """Whether its checkpoints carry a learned ``logit_bias`` (sigmoid scores do)."""
        return self.score_kind == "sigmoid"

    def tokenize(self, tokenizer: Any, texts: Sequence[str], length: int) -> dict[str, Any]:
        """``texts`` as this family's text tower takes them: torch tensors, ``length`` tokens at most.

        Texts are made safe for the tokenizer first (:func:`~siglip_retriever.encoding.texts.encodable_text`),
        padded by :attr:`padding`, truncated at ``length``, and passed on as the checkpoint's
        tokenizer returns them (its attention mask included where it gives one), without
        ``token_type_ids``, which no family's model takes.
        """
        inputs = tokenizer(
            [encodable_text(text) for text in texts],
            padding=self.padding,
            max_length=length,
            truncation=True,
            return_tensors="pt",
        )
        return {key: value for key, value in inputs.items() if key != "token_type_ids"}

    def count_tokens(self, tokenizer: Any, texts: Sequence[str], length: int) -> list[int]:
        """How many tokens of each text :meth:`tokenize` gives the text tower, padding not counted:
        the text's own tokens (with the tokenizer's special ones), truncated at ``length``."""
        ids = tokenizer([encodable_text(text) for text in texts], max_length=length, truncation=True)
        return [len(row) for row in ids["input_ids"]]


_SIGLIP = Family(
    "siglip",
    model_types=("siglip",),
    score_kind="sigmoid",
    loss="sigmoid",
    padding="max_length",
    text_length=64,
    attention_mask=False,
    preprocessing="resized to a square side (no crop), rescaled by 1/255, mean 0.5, std 0.5",
)

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        _SIGLIP,
        replace(  # SigLIP's text rules and loss; images at their aspect ratio, a masked text tower
            _SIGLIP,
            name="siglip2",
            model_types=("siglip2",),
            attention_mask=True,
            variable_resolution=True,
            multilingual=True,
            preprocessing="resized at its aspect ratio to a patch budget, with a pixel attention mask",
        ),
        Family(
            "clip",
            model_types=("clip",),
            score_kind="softmax",
            loss="softmax",
            padding="longest",
            text_length=77,
            attention_mask=True,
            max_logit_scale=math.log(100.0),
            preprocessing="shortest side resized, centre-cropped, CLIP's mean and std",
        ),
    )
}
"""Every family, by name."""

DEFAULT_FAMILY = "siglip"
"""The family of a checkpoint whose name says nothing else."""


def family_named(name: str) -> Family:
    """The family called ``name``.

    Raises:
        ConfigurationError: no family has that name.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}"
        ) from None


def family_of_model_type(model_type: str) -> Family | None:
    """The family that loads transformers checkpoints of ``model_type``; ``None`` if none does."""
    return next((family for family in FAMILIES.values() if model_type in family.model_types), None)


def family_guessed(model_id: str) -> Family:
    """The family a checkpoint's name suggests: the longest family name it holds
    (``siglip2`` before ``siglip`` before ``clip``), else :data:`DEFAULT_FAMILY`.

    The loaded configuration has the final word.

    Example:
        >>> names = ("org/siglip2-b", "org/siglip-b", "openai/clip-b", "org/x")
        >>> [family_guessed(name).name for name in names]
        ['siglip2', 'siglip', 'clip', 'siglip']
    """
    lowered = model_id.lower()
    named = [family for family in FAMILIES.values() if family.name in lowered]
    return max(named, key=lambda family: len(family.name), default=FAMILIES[DEFAULT_FAMILY])
