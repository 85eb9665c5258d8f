"""The web app's response schemas: the pydantic models the routes answer with and the OpenAPI docs show.

The routes return plain dicts; FastAPI checks them against these models (``response_model``) and
the docs at ``/docs`` describe every field from them, and each model by the first paragraph of its
docstring (:class:`Schema`), so the examples below stay out of the API docs.
:data:`ERROR_RESPONSES` documents the error statuses the search, classify and image routes may
answer with.

Example:
    >>> from siglip_retriever.app.schemas import Health, LabelProbability
    >>> Health(status="ok", version="1.0", model="tiny").model_dump()
    {'status': 'ok', 'version': '1.0', 'model': 'tiny'}
    >>> LabelProbability(label="un chat", probability=0.93).label
    'un chat'
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import MissingDependencyError

try:
    from pydantic import BaseModel, Field
except ImportError as exc:  # pragma: no cover - pydantic comes with fastapi
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler
    from pydantic_core import CoreSchema

__all__ = [
    "ERROR_RESPONSES",
    "ClassifyResponse",
    "ErrorBody",
    "Health",
    "Hit",
    "Info",
    "LabelProbability",
    "Schema",
    "SearchResponse",
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not in the store, or its file is gone"},
    413: {"description": "Upload or image larger than the limits"},
    422: {"description": "A parameter outside the limits, or a broken image"},
}
"""The error statuses of the search, classify and image routes, as the OpenAPI docs list them."""


class Schema(BaseModel):
    """A response model described in the OpenAPI docs by its docstring's first paragraph only.

    Example:
        >>> from siglip_retriever.app.schemas import Schema
        >>> class Pong(Schema):
        ...     \"\"\"The answer to a ping.
        ...
        ...     More words for people reading the code.
        ...     \"\"\"
        ...     ok: bool
        >>> Pong.model_json_schema()["description"]
        'The answer to a ping.'
    """

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        """The model's JSON schema with the docstring's summary as its description."""
        schema = handler(core_schema)
        summary = inspect.cleandoc(cls.__doc__ or "").split("\n\n", 1)[0]
        handler.resolve_ref_schema(schema)["description"] = " ".join(summary.split())
        return schema


class ErrorBody(Schema):
    """Every error response.

    Example:
        >>> from siglip_retriever.app.schemas import ErrorBody
        >>> ErrorBody(error="k_too_large", message="k is at most 100", limit=100).limit
        100
    """

    error: str = Field(description="A stable code, such as 'k_too_large' or 'invalid_image'.")
    message: str = Field(description="What happened and what to do about it.")
    limit: int | float | None = Field(default=None, description="The limit that was passed, if any.")


class Hit(Schema):
    """One search result.

    Example:
        >>> from siglip_retriever.app.schemas import Hit
        >>> hit = Hit(rank=1, id="a1", kind="image", name="cat.jpg", similarity=0.31, probability=0.8,
        ...           metadata={}, image_url="/api/images/a1", thumbnail_url="/api/images/a1/thumbnail")
        >>> hit.text is None, hit.probability
        (True, 0.8)
    """

    rank: int = Field(description="1 for the best hit.")
    id: str = Field(description="The entry's id in the store.")
    kind: str = Field(description="'image' (searches return images).")
    name: str | None = Field(description="The picture's file name (the full path is not disclosed).")
    text: str | None = Field(default=None, description="The stored text, for text entries.")
    similarity: float = Field(description="Cosine similarity to the query, in [-1, 1].")
    probability: float | None = Field(
        description="SigLIP's calibrated probability that query and picture match (text queries "
        "on sigmoid models); null for image-to-image searches."
    )
    metadata: dict[str, Any] = Field(description="The entry's metadata (without the file path).")
    image_url: str | None = Field(description="Where the picture is served; null without a file.")
    thumbnail_url: str | None = Field(description="Where its thumbnail is served.")


class SearchResponse(Schema):
    """Hits of a search, best first.

    Example:
        >>> from siglip_retriever.app.schemas import SearchResponse
        >>> SearchResponse(query="un chat", model="tiny", score_kind="sigmoid", hits=[]).hits
        []
    """

    query: str = Field(description="The text query, or the uploaded file's name, or the image id.")
    model: str
    score_kind: str = Field(description="'sigmoid' (probabilities), 'softmax' or 'cosine'.")
    hits: list[Hit]


class LabelProbability(Schema):
    """One label's probability.

    Example:
        >>> from siglip_retriever.app.schemas import LabelProbability
        >>> LabelProbability(label="a dog", probability=0.02).probability
        0.02
    """

    label: str
    probability: float


class ClassifyResponse(Schema):
    """Zero-shot probabilities of the labels, most probable first.

    Example:
        >>> from siglip_retriever.app.schemas import ClassifyResponse, LabelProbability
        >>> answer = ClassifyResponse(
        ...     image="cat.jpg", model="tiny", score_kind="sigmoid", templates=["a photo of {}."],
        ...     top="a cat", labels=[LabelProbability(label="a cat", probability=0.9)])
        >>> answer.top
        'a cat'
    """

    image: str = Field(description="The uploaded file's name.")
    model: str
    score_kind: str = Field(description="'sigmoid': independent probabilities; 'softmax': they sum to 1.")
    templates: list[str]
    top: str
    labels: list[LabelProbability]


class Health(Schema):
    """The server is up.

    Example:
        >>> from siglip_retriever.app.schemas import Health
        >>> Health(status="ok", version="0.1", model="demo").status
        'ok'
    """

    status: str
    version: str
    model: str


class Info(Schema):
    """What the page shows about the store.

    Example:
        >>> from siglip_retriever.app.schemas import Info
        >>> Info(version="0.1", model="demo", score_kind="sigmoid", images=48, texts=0,
        ...      limits={"max_k": 100}).images
        48
    """

    version: str
    model: str
    score_kind: str
    images: int
    texts: int
    limits: dict[str, int]
