"""The web app's search routes: entries for a text query, for an uploaded image, for a stored image.

- ``GET /api/search?q=``: images matching a text query in any language, with SigLIP's probability;
- ``POST /api/similar``: images similar to an uploaded image (multipart field ``image``);
- ``GET /api/images/{id}/similar``: images similar to a stored image, from its stored vector.

All three take the search options as query parameters, every field of
:class:`~siglip_retriever.search.options.SearchOptions` under its own name (``k``, ``kind``,
``where`` as JSON, ``min_probability``, ``min_similarity``, ``diverse``, ``fetch_k``,
``lambda_mult``, ``collapse_duplicates``, ``all_moments``, ``mode``), over the web's defaults
(:data:`~siglip_retriever.search.options.WEB_DEFAULTS`). The parameters are made from the
options' specs (:func:`search_options_query`), and checked by the search layer, so a wrong one
gets the same words as in Python and the CLI (``422 invalid_request``, or ``422 k_too_large``
above the server's ``max_k``). Every hit and score comes from the service's
:class:`~siglip_retriever.search.retriever.Retriever`; :func:`hit_body` only gives a hit the
:class:`~siglip_retriever.app.schemas.Hit` shape: the file's name instead of its path, why it
matched (``matched``, ``says``, ``words``), a PDF entry's ``page`` and ``page_label``, a video
moment's ``start``, ``end``, ``frame`` and the video's other ``moments``, and the URLs its picture,
thumbnail and file are served at.

Example:
    >>> from siglip_retriever.app.routes.search import router
    >>> [(route.path, sorted(route.methods)) for route in router.routes]
    [('/api/search', ['GET']), ('/api/similar', ['POST']), ('/api/images/{image_id}/similar', ['GET'])]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast
from urllib.parse import quote

from siglip_retriever.app.framework import APIRouter, Depends, File, Query, Request, UploadFile
from siglip_retriever.app.schemas import ERROR_RESPONSES, ID_RESPONSES, SearchResponse
from siglip_retriever.app.service import UPLOAD_ROUTE, SearchService, ServiceDep
from siglip_retriever.search.options import WEB_DEFAULTS, OptionSpec, option_specs, parse_where
from siglip_retriever.store.metadata import PAGE, PAGE_LABEL, SOURCE, URI
from siglip_retriever.store.pictures import is_pdf_entry
from siglip_retriever.store.videos import span_location

if TYPE_CHECKING:
    from siglip_retriever.search.hits import SearchHit

__all__ = ["hit_body", "router", "search_options_query"]

router = APIRouter()

_PATH_KEYS = frozenset({URI, SOURCE})  # metadata that holds a file's path: never answered

_TYPES: dict[str, Any] = {
    "count": int,
    "probability": float,
    "cosine": float,
    "flag": bool,
    "choice": str,
    "filter": str,
}


def _parameter(spec: OptionSpec) -> inspect.Parameter:
    """One option as a query parameter: its type, its meaning and its range in the OpenAPI
    document; the search layer checks the value (so the messages are its own)."""
    default = getattr(WEB_DEFAULTS, spec.name)
    schema: dict[str, Any] = {}
    if spec.bounds is not None:
        low, high = spec.bounds
        schema = {"minimum": low} if spec.type == "count" else {"minimum": low, "maximum": high}
    if spec.type == "choice":
        schema = {"enum": list(spec.choices)}
    if default is not None:
        schema["default"] = default
    description = spec.help
    if spec.type == "count":
        description += " At most the server's max_k."
    if spec.type == "filter":
        description += " As JSON."
    query = Query(description=description, json_schema_extra=schema or None)
    annotation = cast(Any, Annotated)[_TYPES[spec.type] | None, query]  # a type made at run time
    return inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def search_options_query() -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency that reads the search options of a request: every field of
    :class:`~siglip_retriever.search.options.SearchOptions` as a query parameter, made from
    :func:`~siglip_retriever.search.options.option_specs`; it returns those given (``where``
    parsed from JSON).

    Example:
        >>> from siglip_retriever.app.routes.search import search_options_query
        >>> read = search_options_query()
        >>> read(k=3, where='{"album": "2019"}', diverse=None)
        {'k': 3, 'where': {'album': '2019'}}
    """

    def read(**values: Any) -> dict[str, Any]:
        given = {name: value for name, value in values.items() if value is not None}
        if "where" in given:
            given["where"] = parse_where(given["where"])
        return given

    read.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_parameter(spec) for spec in option_specs()], return_annotation=dict
    )
    return read


OptionsDep = Annotated[dict[str, Any], Depends(search_options_query())]


@router.get("/api/search", response_model=SearchResponse, responses=ERROR_RESPONSES, tags=["search"])
def search(
    request: Request,
    service: ServiceDep,
    options: OptionsDep,
    q: Annotated[str, Query(description="What the picture should show or say, in any language.")],
) -> dict[str, Any]:
    """Images matching a text query (or texts, with kind), best first, with SigLIP's probability:
    by what they show and, when the store holds their words (OCR, PDF pages), by what they say,
    each hit saying why (matched, says, words); optionally diverse, and one per group of
    duplicate pictures."""
    query = service.check_query(q)
    hits = service.search_text(query, service.check_options(options))
    return _results(request, service, query, service.store.score_kind, hits)


@router.post("/api/similar", response_model=SearchResponse, tags=["search"], **UPLOAD_ROUTE)
def similar(
    request: Request,
    service: ServiceDep,
    options: OptionsDep,
    image: Annotated[UploadFile | str, File(description="The example image (a picture file).")],
) -> dict[str, Any]:
    """Stored images similar to an uploaded one, ranked by cosine similarity (or captions, with
    kind); optionally diverse, and one per group of duplicate pictures."""
    checked = service.check_options(options)
    picture, name = service.decode_upload(image)
    hits = service.similar_to_image(picture, checked)
    return _results(request, service, name, _score_kind(service, checked), hits)


@router.get(
    "/api/images/{image_id}/similar",
    response_model=SearchResponse,
    responses=ID_RESPONSES,
    tags=["search"],
)
def similar_to_stored(
    request: Request,
    service: ServiceDep,
    options: OptionsDep,
    image_id: str,
) -> dict[str, Any]:
    """Stored images similar to a stored one (itself left out), from its stored vector; optionally
    diverse, and one per group of duplicate pictures."""
    hits = service.similar_to_id(image_id, service.check_options(options))
    return _results(request, service, image_id, _score_kind(service, options), hits)


def _score_kind(service: SearchService, options: dict[str, Any]) -> str:
    """What an image query's hits are scored by: the cosine for images alone, else the model's."""
    return "cosine" if options.get("kind", WEB_DEFAULTS.kind) == "image" else service.store.score_kind


def hit_body(hit: SearchHit, root: str) -> dict[str, Any]:
    """A hit as the API answers it (:class:`~siglip_retriever.app.schemas.Hit`): the file's name
    (and those of its byte-identical copies) but not their paths (``uri`` and a PDF's or video's
    ``source`` are left out of the metadata), why it matched and its words, a PDF entry's ``page``
    and ``page_label``, a video moment's span (``start``, ``end``, ``frame``, the other
    ``moments``), and where the picture, its thumbnail and its file (a PDF at the page:
    ``#page=N``; a video at the moment: ``#t=start,end``) are served under ``root``.

    Args:
        hit: a hit from the service's retriever.
        root: the app's root path (``""``, or the prefix a proxy serves it under).

    Returns:
        A JSON-ready dict.
    """
    data = hit.to_dict()
    data.pop("uri")
    data["name"] = Path(hit.uri).name if hit.uri else None
    data["names"] = [Path(path).name for path in data.pop("paths")]
    data["metadata"] = {k: v for k, v in data["metadata"].items() if k not in _PATH_KEYS}
    page = hit.metadata.get(PAGE) if is_pdf_entry(hit.metadata) else None
    data["page"] = page
    data["page_label"] = str(hit.metadata.get(PAGE_LABEL) or page) if page is not None else None
    base = f"{root}/api/images/{quote(hit.id, safe='')}"
    data["image_url"] = base if hit.uri else None
    data["thumbnail_url"] = f"{base}/thumbnail" if hit.uri else None
    data["file_url"] = _file_url(f"{base}/file", hit, page) if hit.uri else None
    return data


def _file_url(url: str, hit: SearchHit, page: int | None) -> str:
    """Where a hit's file is served, opened at its part: ``#page=N`` for a PDF's page (viewers open
    it there), ``#t=start,end`` for a video's moment (browsers play that span)."""
    if page is not None:
        return f"{url}#page={page}"
    if hit.start is not None:
        return span_location(url, hit.start, hit.end)
    return url


def _results(
    request: Request, service: SearchService, query: str, score_kind: str, hits: list[SearchHit]
) -> dict[str, Any]:
    """The :class:`~siglip_retriever.app.schemas.SearchResponse` body of a search."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return {
        "query": query,
        "model": service.store.model_name,
        "score_kind": score_kind,
        "hits": [hit_body(hit, root) for hit in hits],
    }
