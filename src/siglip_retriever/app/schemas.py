"""The web app's response schemas: the pydantic models the routes answer with and the OpenAPI docs show.

The routes return plain dicts; FastAPI checks them against these models (``response_model``) and
the docs at ``/docs`` describe every field from them, and each model by the first paragraph of its
docstring (:class:`Schema`), so the examples below stay out of the API docs.
:data:`COMMON_RESPONSES`, :data:`ERROR_RESPONSES`, :data:`ID_RESPONSES`, :data:`RANGE_RESPONSES`,
:data:`UPLOAD_RESPONSES` and :data:`DUPLICATES_RESPONSES` declare every error status a route may
answer with, each with the :class:`ErrorBody` schema; :data:`NOT_BLANK` and
:data:`TEMPLATE_PATTERN` are the patterns the OpenAPI document gives queries, labels and templates
(:mod:`siglip_retriever.app.openapi`).

Example:
    >>> from siglip_retriever.app.schemas import Health, LabelProbability
    >>> Health(status="ok", version="1.0", model="tiny").model_dump()
    {'status': 'ok', 'version': '1.0', 'model': 'tiny'}
    >>> LabelProbability(label="un chat", probability=0.93).label
    'un chat'
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Literal

from siglip_retriever.app.framework import BaseModel, Field

if TYPE_CHECKING:
    from pydantic import GetJsonSchemaHandler
    from pydantic_core import CoreSchema

__all__ = [
    "COMMON_RESPONSES",
    "DUPLICATES_RESPONSES",
    "ERROR_RESPONSES",
    "ID_RESPONSES",
    "NOT_BLANK",
    "RANGE_RESPONSES",
    "TEMPLATE_PATTERN",
    "UPLOAD_RESPONSES",
    "ClassifyResponse",
    "DuplicateFileBody",
    "DuplicateGroupBody",
    "DuplicatesResponse",
    "ErrorBody",
    "Health",
    "Hit",
    "Info",
    "LabelProbability",
    "Moment",
    "Schema",
    "SearchResponse",
]


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


NOT_BLANK = (
    "[^\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
)
"""A pattern that text with a character other than white space matches: the characters are
exactly those of ``str.isspace``, so the schema and the server
(:func:`~siglip_retriever.app.service.has_text`) agree on every string."""

TEMPLATE_PATTERN = "^(?:[^{}]|\\{\\{|\\}\\})*\\{\\}(?:[^{}]|\\{\\{|\\}\\})*$"
"""A zero-shot template: text with exactly one ``{}``, ``{{`` and ``}}`` for literal braces
(what :func:`~siglip_retriever.search.templates.parse_template` accepts)."""


def _errors(statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error statuses, each with :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": text} for status, text in statuses.items()}


_TRANSPORT = {
    400: "The Host header names another machine (invalid_host), or a malformed Content-Length.",
    405: "Another method than those in the Allow header (method_not_allowed).",
    408: "The request body did not arrive in full in time (request_timeout); the connection is closed.",
    413: "The request body is larger than max_upload_bytes (upload_too_large).",
}

COMMON_RESPONSES = _errors(_TRANSPORT)
"""The errors every route may answer with, before the route sees the request."""
COMMON_RESPONSES[405]["headers"] = {
    "Allow": {"description": "The methods this path serves.", "schema": {"type": "string"}}
}

ERROR_RESPONSES = {
    **COMMON_RESPONSES,
    **_errors(
        {
            422: "A parameter outside its limits or malformed (k_too_large, query_too_long, empty_query, "
            "invalid_request).",
            503: "The store's Chroma server does not answer (store_unavailable).",
        }
    ),
}
"""The errors of the text search route."""

ID_RESPONSES = {
    **ERROR_RESPONSES,
    **_errors({404: "No image with this id in the store, or its file is gone (not_found)."}),
}
"""The errors of the routes that take a stored image's id."""

RANGE_RESPONSES = _errors(
    {416: "The Range header asks for bytes past the end of the file (range_not_satisfiable)."}
)
"""The error of the routes that serve a stored file's byte ranges."""
RANGE_RESPONSES[416]["headers"] = {
    "Content-Range": {"description": "bytes */<the file's size>.", "schema": {"type": "string"}}
}

DUPLICATES_RESPONSES = {
    **COMMON_RESPONSES,
    **_errors(
        {
            422: "max_bits or similar outside its range, or malformed (invalid_request).",
            503: "The store's Chroma server does not answer (store_unavailable).",
        }
    ),
}
"""The errors of the duplicates route."""

UPLOAD_RESPONSES = {
    **ERROR_RESPONSES,
    **_errors(
        {
            413: "The body is larger than max_upload_bytes (upload_too_large), or the picture has more "
            "than max_pixels pixels (too_many_pixels).",
            415: "The body is not multipart/form-data (unsupported_media_type).",
            422: "A missing or unreadable picture (missing_image, invalid_image), a label or template "
            "outside its limits (too_many_labels, label_too_long, invalid_template), or another "
            "parameter (k_too_large, invalid_request).",
            503: "Every decoding slot stayed busy for busy_wait_seconds (busy; see Retry-After), or the "
            "store's Chroma server does not answer (store_unavailable).",
        }
    ),
}
"""The errors of the routes that take an uploaded picture."""
UPLOAD_RESPONSES[503]["headers"] = {
    "Retry-After": {
        "description": "Seconds to wait before sending again (busy).",
        "schema": {"type": "integer"},
    }
}


class Moment(Schema):
    """Another moment of a hit's video among the results (a search that collapses moments).

    Example:
        >>> from siglip_retriever.app.schemas import Moment
        >>> Moment(id="vid-ab-m2", start=12.0, end=19.5, probability=0.4, similarity=0.12).start
        12.0
    """

    id: str = Field(description="The moment's id in the store (its picture: /api/images/{id}).")
    start: float = Field(description="Where the moment starts, in seconds.")
    end: float | None = Field(description="Where it ends, in seconds.")
    probability: float | None = Field(description="Its probability, as the hit's.")
    similarity: float = Field(description="Its cosine similarity to the query.")


class Hit(Schema):
    """One search result.

    Example:
        >>> from siglip_retriever.app.schemas import Hit
        >>> hit = Hit(rank=1, id="a1", kind="image", name="cat.jpg", similarity=0.31, probability=0.8,
        ...           metadata={}, image_url="/api/images/a1", thumbnail_url="/api/images/a1/thumbnail")
        >>> hit.text is None, hit.probability, hit.matched, hit.words, hit.page, hit.start, hit.moments
        (True, 0.8, None, [], None, None, [])
    """

    rank: int = Field(description="1 for the best hit.")
    id: str = Field(description="The entry's id in the store.")
    kind: str = Field(
        description="'image' for a picture (a file, a PDF's page or figure), 'video' for a video's "
        "moment; 'text' for a stored text (kind=text)."
    )
    name: str | None = Field(description="The picture's file name (the full path is not disclosed).")
    names: list[str] = Field(
        default_factory=list,
        description="The names of every file holding these exact bytes (the picture's, then its "
        "byte-identical copies'); empty for pictures not indexed from files.",
    )
    text: str | None = Field(default=None, description="The stored text, for text entries.")
    similarity: float = Field(description="Cosine similarity to the query, in [-1, 1].")
    probability: float | None = Field(
        description="SigLIP's calibrated probability that query and picture match (text queries "
        "on sigmoid models; when the search matches words, that the picture shows the query or "
        "says it); null for image-to-image searches."
    )
    matched: Literal["shows", "says", "both"] | None = Field(
        default=None,
        description="Why the picture matched: by what it shows, by what it says (its words), or "
        "both; null in a search that does not match words (mode 'visual').",
    )
    says: str | None = Field(
        default=None,
        description="The picture's words (read by OCR, or a PDF page's text layer), one line per "
        "line, in a search that matches words; null when it has none.",
    )
    words: list[str] = Field(
        default_factory=list,
        description="The query's words found in 'says', as the picture writes them (to highlight).",
    )
    page: int | None = Field(
        default=None, description="A PDF's page or figure: the page's number, from 1; else null."
    )
    page_label: str | None = Field(
        default=None,
        description="A PDF's page or figure: the label the PDF prints on the page ('iv', 'A-3'), "
        "else its number; null for pictures.",
    )
    start: float | None = Field(
        default=None, description="A video's moment: where it starts, in seconds; null for others."
    )
    end: float | None = Field(
        default=None, description="A video's moment: where it ends, in seconds; null for others."
    )
    frame: float | None = Field(default=None, description="A video's moment: its picture's time in seconds.")
    moments: list[Moment] = Field(
        default_factory=list,
        description="A video's best moment: the video's other moments among the results, best "
        "first (unless all_moments); empty for others.",
    )
    metadata: dict[str, Any] = Field(description="The entry's metadata (without file paths).")
    image_url: str | None = Field(
        description="Where the picture is served (a PDF's page: rendered as PNG); null without a file."
    )
    thumbnail_url: str | None = Field(description="Where its thumbnail is served.")
    file_url: str | None = Field(
        default=None,
        description="Where the file holding the picture is served as it is (byte ranges too): a "
        "PDF's page links its PDF opened at the page ('#page=N'), a video's moment its video "
        "played from the moment ('#t=start,end'); null without a file.",
    )


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
        ...      limits={"max_k": 100}).video_moments
        0
    """

    version: str
    model: str
    score_kind: str
    images: int = Field(description="The pictures searched: images, PDF pages and figures, video moments.")
    video_moments: int = Field(default=0, description="How many of them are moments of videos.")
    texts: int
    limits: dict[str, int]


class DuplicateFileBody(Schema):
    """One file of a group of duplicates.

    Example:
        >>> from siglip_retriever.app.schemas import DuplicateFileBody
        >>> DuplicateFileBody(id="img-1", name="a.jpg", size=2048, width=640, height=480, date=None,
        ...     date_source=None, bits=0, similarity=None, keep=True, image_url="/api/images/img-1",
        ...     thumbnail_url="/api/images/img-1/thumbnail").keep
        True
    """

    id: str = Field(description="The store entry holding its content (byte-identical files share one).")
    name: str | None = Field(description="The file's name (the full path is not disclosed).")
    size: int | None = Field(description="Its size in bytes.")
    width: int | None = Field(description="The picture's width in pixels, as shown.")
    height: int | None = Field(description="The picture's height in pixels, as shown.")
    date: str | None = Field(description="When it was taken (EXIF), else last modified: ISO 8601.")
    date_source: str | None = Field(description="'taken' or 'modified': where date comes from.")
    bits: int | None = Field(description="Bits its fingerprint differs from the kept file's (0 to 64).")
    similarity: float | None = Field(description="Cosine to the kept picture (when similar was given).")
    keep: bool = Field(description="Whether this is the file the group suggests keeping.")
    image_url: str | None = Field(description="Where the picture is served; null without a file.")
    thumbnail_url: str | None = Field(description="Where its thumbnail is served.")


class DuplicateGroupBody(Schema):
    """Files that hold the same picture, the one to keep first.

    Example:
        >>> from siglip_retriever.app.schemas import DuplicateGroupBody
        >>> DuplicateGroupBody(files=[], reasons=["picture"], reclaimable_bytes=0).reasons
        ['picture']
    """

    files: list[DuplicateFileBody] = Field(description="The kept file first (largest, then oldest).")
    reasons: list[str] = Field(
        description="'identical' (the same bytes), 'picture' (fingerprints within max_bits), "
        "'similar' (embeddings within similar)."
    )
    reclaimable_bytes: int = Field(description="The bytes the other files take.")


class DuplicatesResponse(Schema):
    """Groups of files that hold the same picture; nothing is deleted.

    Example:
        >>> from siglip_retriever.app.schemas import DuplicatesResponse
        >>> DuplicatesResponse(max_bits=12, similar=None, checked=3, unhashed=0, message=None,
        ...     groups=[]).checked
        3
    """

    max_bits: int = Field(description="Fingerprints at most this many bits apart were grouped.")
    similar: float | None = Field(description="The cosine threshold, when embeddings were compared.")
    checked: int = Field(description="The image entries looked at.")
    unhashed: int = Field(description="Entries without a fingerprint: index their folders again.")
    message: str | None = Field(description="What to do about entries without a fingerprint.")
    total_groups: int = Field(default=0, description="How many groups there are (the answer lists `limit`).")
    groups: list[DuplicateGroupBody] = Field(description="The groups, most bytes to reclaim first.")
