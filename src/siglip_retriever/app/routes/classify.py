"""The web app's zero-shot route: ``POST /api/classify``, each label's probability for an uploaded image.

Each ``labels`` field of the multipart form is one label (commas are part of it: "Paris, France";
the search page splits its text box on commas and newlines before sending); its ``template``
fields, if any, replace the default prompt ``'a photo of {}.'`` and must each have exactly one
``{}`` (``422 invalid_template``). SigLIP's probabilities are independent (``score_kind``
``'sigmoid'``); CLIP's sum to 1 (``'softmax'``).

Example:
    >>> from siglip_retriever.app.routes.classify import router
    >>> [route.path for route in router.routes]
    ['/api/classify']
"""

from __future__ import annotations

from typing import Annotated, Any

from siglip_retriever.app.framework import APIRouter, File, Form, UploadFile
from siglip_retriever.app.schemas import ClassifyResponse
from siglip_retriever.app.service import UPLOAD_ROUTE, ServiceDep

__all__ = ["router"]

router = APIRouter()


@router.post("/api/classify", response_model=ClassifyResponse, tags=["zero-shot"], **UPLOAD_ROUTE)
def classify(
    service: ServiceDep,
    image: Annotated[UploadFile | str, File(description="The image to classify (a picture file).")],
    labels: Annotated[list[str], Form(description="One label per field, in any language.")],
    template: Annotated[
        list[str] | None,
        Form(description="Prompts with exactly one {} for the label (default: 'a photo of {}.')."),
    ] = None,
) -> dict[str, Any]:
    """Zero-shot: each label's probability for the image (independent for SigLIP)."""
    names, templates = service.check_labels(labels, template or [])
    picture, name = service.decode_upload(image)
    result, used = service.classify(picture, names, templates)
    data = result.to_dict()
    data.update(image=name, model=service.store.model_name, templates=used)
    return data
