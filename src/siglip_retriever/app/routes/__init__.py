"""The web app's routes: one FastAPI ``APIRouter`` a module, each route a thin shell over the service.

- :mod:`~siglip_retriever.app.routes.meta`: ``GET /``, ``GET /health``, ``GET /api/info``;
- :mod:`~siglip_retriever.app.routes.search`: ``GET /api/search``, ``POST /api/similar``,
  ``GET /api/images/{id}/similar``;
- :mod:`~siglip_retriever.app.routes.classify`: ``POST /api/classify``;
- :mod:`~siglip_retriever.app.routes.images`: ``GET /api/images/{id}``, its thumbnail and its file;
- :mod:`~siglip_retriever.app.routes.duplicates`: ``GET /api/duplicates``;
- :mod:`~siglip_retriever.app.routes.openai`: ``POST /v1/embeddings``, ``GET /v1/models`` (OpenAI's API).

A route reads its parameters, calls :class:`~siglip_retriever.app.service.SearchService`
(a ``service: ServiceDep`` parameter) and gives the answer the shape of its
:mod:`~siglip_retriever.app.schemas` model; :func:`~siglip_retriever.app.api.create_app`
includes the routers in this order.

Example:
    >>> from siglip_retriever.app.routes import ROUTERS
    >>> [route.path for router in ROUTERS for route in router.routes][1:4]
    ['/health', '/api/info', '/api/search']
"""

from __future__ import annotations

from siglip_retriever.app.routes import classify, duplicates, images, meta, openai, search

__all__ = ["ROUTERS"]

ROUTERS = (meta.router, search.router, classify.router, images.router, duplicates.router, openai.router)
"""Every router of the app, in the order the app includes them."""
