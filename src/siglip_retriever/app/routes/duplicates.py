"""The web app's duplicates route: groups of stored files that hold the same picture.

- ``GET /api/duplicates?max_bits=&similar=&limit=``: the groups of
  :meth:`MultimodalStore.find_duplicates <siglip_retriever.store.store.MultimodalStore.find_duplicates>`,
  the file to keep first; nothing is deleted or moved. Each file is given by its name (its full
  path is not disclosed), its sizes and date, and the URLs its picture and thumbnail are served at
  (byte-identical files share one entry, so one picture). The groups come most bytes to reclaim
  first, at most ``limit`` of them (``total_groups`` counts them all), so that an answer stays
  bounded on any store.

Example:
    >>> from siglip_retriever.app.routes.duplicates import router
    >>> [(route.path, sorted(route.methods)) for route in router.routes]
    [('/api/duplicates', ['GET'])]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from siglip_retriever.app.framework import APIRouter, Query, Request
from siglip_retriever.app.schemas import DUPLICATES_RESPONSES, DuplicatesResponse
from siglip_retriever.app.service import ServiceDep
from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS
from siglip_retriever.store.hash_index import MAX_BITS

if TYPE_CHECKING:
    from siglip_retriever.store.duplicates import DuplicateFile, DuplicateGroups

__all__ = ["MAX_GROUPS", "duplicates_body", "router"]

router = APIRouter()

MAX_GROUPS = 1000
"""The most groups one answer lists (``limit``)."""


@router.get(
    "/api/duplicates", response_model=DuplicatesResponse, responses=DUPLICATES_RESPONSES, tags=["images"]
)
def duplicates(
    request: Request,
    service: ServiceDep,
    max_bits: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_BITS,
            description="Pictures whose fingerprints differ in at most this many of 64 bits are the "
            "same picture (copies differ by a few bits, cropped ones by more, distinct photos by "
            "many more).",
        ),
    ] = SAME_PICTURE_BITS,
    similar: Annotated[
        float | None,
        Query(
            ge=-1.0,
            le=1.0,
            description="Also group pictures whose embeddings have at least this cosine similarity "
            "(burst shots; model-dependent; slower: reads every picture's nearest neighbours).",
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_GROUPS,
            description="At most this many groups, most bytes to reclaim first (total_groups counts all).",
        ),
    ] = 100,
) -> dict[str, Any]:
    """Groups of stored files that hold the same picture, the one to keep first; nothing is deleted."""
    groups = service.store.find_duplicates(max_bits=max_bits, similar=similar)
    return duplicates_body(groups, str(request.scope.get("root_path", "")).rstrip("/"), limit=limit)


def duplicates_body(groups: DuplicateGroups, root: str, *, limit: int = MAX_GROUPS) -> dict[str, Any]:
    """The :class:`~siglip_retriever.app.schemas.DuplicatesResponse` body of the first ``limit``
    ``groups``: file names instead of paths, and where each picture and thumbnail is served under
    ``root``; ``total_groups`` counts them all.

    Example:
        >>> from siglip_retriever.app.routes.duplicates import duplicates_body
        >>> from siglip_retriever.store.duplicates import DuplicateFile, DuplicateGroup, DuplicateGroups
        >>> kept = DuplicateFile("img-1", "/p/a.jpg", 900, 640, 480, None, None, 0, keep=True)
        >>> groups = DuplicateGroups([DuplicateGroup((kept,), ("identical",))], checked=1, unhashed=0,
        ...     max_bits=12, similar=None)
        >>> duplicates_body(groups, "")["groups"][0]["files"][0]["thumbnail_url"]
        '/api/images/img-1/thumbnail'
    """
    data = groups.to_dict()
    data["total_groups"] = len(groups)
    data["groups"] = [
        {
            "files": [_file_body(item, root) for item in group.files],
            "reasons": list(group.reasons),
            "reclaimable_bytes": group.reclaimable_bytes,
        }
        for group in groups[:limit]
    ]
    return data


def _file_body(item: DuplicateFile, root: str) -> dict[str, Any]:
    """One file as the API answers it: its name, not its path."""
    data = item.to_dict()
    data.pop("path")
    data["name"] = Path(item.path).name if item.path else None
    base = f"{root}/api/images/{quote(item.id, safe='')}"
    data["image_url"] = base if item.path else None
    data["thumbnail_url"] = f"{base}/thumbnail" if item.path else None
    return data
