"""The web app's search routes: images for a text query, for an uploaded image, for a stored image.

- ``GET /api/search?q=&k=&min_probability=``: images matching a text query in any language, with
  SigLIP's probability; ``diverse=true`` (with ``fetch_k`` and ``lambda_mult``) picks them by
  maximal marginal relevance, ``collapse_duplicates=true`` gives one per group of duplicate
  pictures (the others' ids in its ``metadata.duplicates``), as the search layer defines them
  (:mod:`siglip_retriever.search.diversity`);
- ``POST /api/similar``: images similar to an uploaded image (multipart field ``image``);
- ``GET /api/images/{id}/similar``: images similar to a stored image, from its stored vector.

The two similar routes take the same four diversity parameters (:func:`diversity_query`).

The thresholds have the search layer's names, ``min_probability`` and ``min_similarity`` (the
earlier ``min_prob`` and ``min_sim`` are still accepted, and left out of the OpenAPI document).
Every hit and score comes from the service's
:class:`~siglip_retriever.search.retriever.Retriever`; :func:`hit_body` only gives a hit the
:class:`~siglip_retriever.app.schemas.Hit` shape: the file's name instead of its path, and the
URLs its picture and thumbnail are served at.

Example:
    >>> from siglip_retriever.app.routes.search import router
    >>> [(route.path, sorted(route.methods)) for route in router.routes]
    [('/api/search', ['GET']), ('/api/similar', ['POST']), ('/api/images/{image_id}/similar', ['GET'])]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from siglip_retriever.app.errors import ApiError
from siglip_retriever.app.schemas import ERROR_RESPONSES, ID_RESPONSES, UPLOAD_RESPONSES, SearchResponse
from siglip_retriever.app.service import MultipartOnly, SearchService, ServiceDep
from siglip_retriever.errors import MissingDependencyError
from siglip_retriever.search.diversity import DEFAULT_LAMBDA_MULT, Diversity

try:
    from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

if TYPE_CHECKING:
    from siglip_retriever.search.hits import SearchHit

__all__ = ["DiversityQuery", "diversity_query", "hit_body", "router"]

router = APIRouter()

MinSimilarity = Annotated[
    float | None, Query(ge=-1.0, le=1.0, description="Only hits with at least this cosine.")
]
EarlierMinSimilarity = Annotated[float | None, Query(ge=-1.0, le=1.0, include_in_schema=False)]


@dataclass(frozen=True)
class DiversityQuery:
    """The diversity parameters of a search request, as given (see :func:`diversity_query`).

    Example:
        >>> from siglip_retriever.app.routes.search import DiversityQuery
        >>> DiversityQuery(diverse=True, fetch_k=None, lambda_mult=None, collapse_duplicates=False).diverse
        True
    """

    diverse: bool
    fetch_k: int | None
    lambda_mult: float | None
    collapse_duplicates: bool

    def resolve(self, service: SearchService, k: int) -> Diversity:
        """The search layer's :class:`~siglip_retriever.search.diversity.Diversity` of these
        parameters for ``k`` hits: ``fetch_k`` within the server's ``max_k`` (``422 k_too_large``
        above it) and at least ``k``, ``lambda_mult`` 0.5 unless given.

        Raises:
            ApiError: ``fetch_k`` above the server's ``max_k``.
        """
        fetch_k = self.fetch_k
        if fetch_k is not None:
            limit = service.limits.max_k
            if fetch_k > limit:
                raise ApiError(422, "k_too_large", f"fetch_k is at most {limit}, not {fetch_k}", limit=limit)
            fetch_k = max(fetch_k, k)
        weight = self.lambda_mult if self.lambda_mult is not None else DEFAULT_LAMBDA_MULT
        return Diversity(self.diverse, fetch_k, weight, self.collapse_duplicates)


def diversity_query(
    diverse: Annotated[
        bool,
        Query(
            description="Pick relevant and varied hits: maximal marginal relevance among the fetch_k nearest."
        ),
    ] = False,
    fetch_k: Annotated[
        int | None,
        Query(
            ge=1,
            description="With diverse: the nearest candidates to pick from (at most the server's max_k; "
            "default: the larger of 20 and k; a value under k counts as k).",
        ),
    ] = None,
    lambda_mult: Annotated[
        float | None,
        Query(
            ge=0.0,
            le=1.0,
            description="With diverse: 1 ranks by relevance alone, 0 by diversity alone (default 0.5).",
        ),
    ] = None,
    collapse_duplicates: Annotated[
        bool,
        Query(
            description="One hit per group of duplicate pictures (the same perceptual hash); the "
            "others' ids are listed in its metadata.duplicates."
        ),
    ] = False,
) -> DiversityQuery:
    """The diversity query parameters every search route takes (a FastAPI dependency): as the
    search layer defines them (:mod:`siglip_retriever.search.diversity`). Without
    ``diverse=true``, ``fetch_k`` and ``lambda_mult`` do nothing: a truthful schema cannot refuse
    them, so they are accepted and ignored.

    Example:
        >>> from siglip_retriever.app.routes.search import diversity_query
        >>> diversity_query(collapse_duplicates=True).collapse_duplicates
        True
    """
    return DiversityQuery(diverse, fetch_k, lambda_mult, collapse_duplicates)


DiversityDep = Annotated[DiversityQuery, Depends(diversity_query)]


@router.get("/api/search", response_model=SearchResponse, responses=ERROR_RESPONSES, tags=["search"])
def search(
    request: Request,
    service: ServiceDep,
    diversity: DiversityDep,
    q: Annotated[str, Query(description="What the picture should show, in any language.")],
    k: Annotated[int, Query(description="Number of hits (at most the server's max_k).")] = 12,
    min_probability: Annotated[
        float | None, Query(ge=0.0, le=1.0, description="Only hits with at least this probability.")
    ] = None,
    min_prob: Annotated[float | None, Query(ge=0.0, le=1.0, include_in_schema=False)] = None,
) -> dict[str, Any]:
    """Images matching a text query, best first, with SigLIP's probability; optionally diverse, and
    one per group of duplicate pictures."""
    query = service.check_query(q)
    count = service.check_k(k)
    threshold = _one("min_probability", min_probability, min_prob)
    hits = service.search_text(query, count, threshold, diversity.resolve(service, count))
    return _results(request, service, query, service.store.score_kind, hits)


@router.post(
    "/api/similar",
    response_model=SearchResponse,
    responses=UPLOAD_RESPONSES,
    tags=["search"],
    dependencies=[MultipartOnly],
)
def similar(
    request: Request,
    service: ServiceDep,
    diversity: DiversityDep,
    image: Annotated[UploadFile | str, File(description="The example image (a picture file).")],
    k: Annotated[int, Query(description="Number of hits.")] = 12,
    min_similarity: MinSimilarity = None,
    min_sim: EarlierMinSimilarity = None,
) -> dict[str, Any]:
    """Stored images similar to an uploaded one, ranked by cosine similarity; optionally diverse,
    and one per group of duplicate pictures."""
    count = service.check_k(k)
    threshold = _one("min_similarity", min_similarity, min_sim)
    options = diversity.resolve(service, count)
    picture, name = service.decode_upload(image)
    hits = service.similar_to_image(picture, count, threshold, options)
    return _results(request, service, name, "cosine", hits)


@router.get(
    "/api/images/{image_id}/similar",
    response_model=SearchResponse,
    responses=ID_RESPONSES,
    tags=["search"],
)
def similar_to_stored(
    request: Request,
    service: ServiceDep,
    diversity: DiversityDep,
    image_id: str,
    k: Annotated[int, Query(description="Number of hits.")] = 12,
    min_similarity: MinSimilarity = None,
    min_sim: EarlierMinSimilarity = None,
) -> dict[str, Any]:
    """Stored images similar to a stored one (itself left out), from its stored vector; optionally
    diverse, and one per group of duplicate pictures."""
    threshold = _one("min_similarity", min_similarity, min_sim)
    count = service.check_k(k)
    hits = service.similar_to_id(image_id, count, threshold, diversity.resolve(service, count))
    return _results(request, service, image_id, "cosine", hits)


def _one(name: str, value: float | None, earlier: float | None) -> float | None:
    """A threshold given under its name or its earlier short name (not both, unless equal)."""
    if value is not None and earlier is not None and value != earlier:
        short = {"min_probability": "min_prob", "min_similarity": "min_sim"}[name]
        raise ApiError(422, "invalid_request", f"give {name} or {short}, not both")
    return value if value is not None else earlier


def hit_body(hit: SearchHit, root: str) -> dict[str, Any]:
    """A hit as the API answers it (:class:`~siglip_retriever.app.schemas.Hit`): the file's name
    (and those of its byte-identical copies) but not their paths, and where the picture and its
    thumbnail are served under ``root``.

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
    data["metadata"] = {k: v for k, v in data["metadata"].items() if k != "uri"}
    base = f"{root}/api/images/{quote(hit.id, safe='')}"
    data["image_url"] = base if hit.uri else None
    data["thumbnail_url"] = f"{base}/thumbnail" if hit.uri else None
    return data


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
