"""The web app's zero-shot route: ``POST /api/classify``, each label's probability for an uploaded image.

The form's ``labels`` fields are split on commas and newlines (:func:`split_labels`); its
``template`` fields, if any, replace the default prompt ``'a photo of {}.'``. SigLIP's
probabilities are independent (``score_kind`` ``'sigmoid'``); CLIP's sum to 1 (``'softmax'``).

Example:
    >>> from siglip_retriever.app.routes.classify import router, split_labels
    >>> split_labels(["un chat, a dog", "Hund\\n", " , "])
    ['un chat', 'a dog', 'Hund']
    >>> [route.path for route in router.routes]
    ['/api/classify']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from siglip_retriever.app.schemas import ERROR_RESPONSES, ClassifyResponse
from siglip_retriever.app.service import ServiceDep
from siglip_retriever.errors import MissingDependencyError

try:
    from fastapi import APIRouter, File, Form, UploadFile
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

__all__ = ["router", "split_labels"]

router = APIRouter()


@router.post("/api/classify", response_model=ClassifyResponse, responses=ERROR_RESPONSES, tags=["zero-shot"])
def classify(
    service: ServiceDep,
    labels: Annotated[list[str], Form(description="Labels, comma- or newline-separated, any language.")],
    image: Annotated[UploadFile | None, File(description="The image to classify.")] = None,
    template: Annotated[
        list[str] | None, Form(description="Templates with {} for the label (default: 'a photo of {}.').")
    ] = None,
) -> dict[str, Any]:
    """Zero-shot: each label's probability for the image (independent for SigLIP)."""
    names = split_labels(labels)
    templates = [t for t in (template or []) if t.strip()]
    service.check_labels(names, templates)
    picture, name = service.decode_upload(image)
    result, used = service.classify(picture, names, templates)
    data = result.to_dict()
    data.update(image=name, model=service.store.model_name, templates=used)
    return data


def split_labels(values: Sequence[str]) -> list[str]:
    """The labels of the form's ``labels`` fields, each split on commas and newlines, blanks dropped."""
    labels: list[str] = []
    for value in values:
        for part in value.replace("\n", ",").split(","):
            if part.strip():
                labels.append(part.strip())
    return labels
