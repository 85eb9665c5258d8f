"""The web app's service routes: the search page, liveness, and what the page shows about the store.

- ``GET /``: the search page (plain HTML, CSS and JavaScript from :data:`STATIC_DIR`, whose other
  files :func:`~siglip_retriever.app.api.create_app` serves under ``/static``);
- ``GET /health``: liveness, with the model name and the package version;
- ``GET /api/info``: the store's model, score kind and counts, and the server's limits.

Example:
    >>> from siglip_retriever.app.routes.meta import STATIC_DIR, router
    >>> [route.path for route in router.routes]
    ['/', '/health', '/api/info']
    >>> (STATIC_DIR / "index.html").is_file()
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siglip_retriever import __version__
from siglip_retriever.app.framework import APIRouter, FileResponse
from siglip_retriever.app.schemas import COMMON_RESPONSES, Health, Info
from siglip_retriever.app.service import ServiceDep
from siglip_retriever.store.metadata import KIND

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent.parent / "static"
"""The page's HTML, CSS and JavaScript."""

router = APIRouter()


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    """The search page."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/health", response_model=Health, responses=COMMON_RESPONSES, tags=["service"])
def health(service: ServiceDep) -> dict[str, Any]:
    """Liveness: the server answers and the store's model is loaded."""
    return {"status": "ok", "version": __version__, "model": service.store.model_name}


@router.get("/api/info", response_model=Info, responses=COMMON_RESPONSES, tags=["service"])
def info(service: ServiceDep) -> dict[str, Any]:
    """The store's model, score kind and counts, and the server's limits."""
    store = service.store
    return {
        "version": __version__,
        "model": store.model_name,
        "score_kind": store.score_kind,
        "images": store.count("image"),
        "video_moments": store.count(where={KIND: "video"}),
        "texts": store.count("text"),
        "limits": service.limits.to_dict(),
    }
