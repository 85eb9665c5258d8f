"""The web app: a REST API with OpenAPI docs and one search page, over any store.

``create_app(store)`` returns a FastAPI application. Its routes:

- ``GET /``: the search page (plain HTML, CSS and JavaScript from ``static/``);
- ``GET /health``: liveness, with the model name and the package version;
- ``GET /api/info``: the store's model, score kind, counts and the limits below;
- ``GET /api/search?q=&k=&min_prob=``: images matching a text query in any language;
- ``POST /api/similar``: images similar to an uploaded image (multipart field ``image``);
- ``GET /api/images/{id}/similar``: images similar to a stored image;
- ``POST /api/classify``: zero-shot probabilities of ``labels`` for an uploaded ``image``;
- ``GET /api/images/{id}`` and ``GET /api/images/{id}/thumbnail``: a stored picture and its
  thumbnail, found by id in the store and served from the path the store recorded; never a
  path taken from the request;
- ``GET /docs``, ``GET /redoc``, ``GET /openapi.json``: the API's documentation.

Every error is JSON: ``{"error": "<code>", "message": "<what happened and what to do>"}``, with
the limit that was passed where there is one. The codes: ``upload_too_large`` and
``too_many_pixels`` (413), ``k_too_large``, ``query_too_long``, ``empty_query``,
``too_many_labels``, ``label_too_long``, ``invalid_image``, ``missing_image`` and
``invalid_request`` (422), ``not_found`` (404), ``invalid_host`` (400) and ``internal_error`` (500).

Requests are accepted only with a ``Host`` header naming this machine (``allowed_hosts``), which
keeps other web sites from reading the pictures through DNS rebinding.

Example:
    >>> import tempfile
    >>> from fastapi.testclient import TestClient
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.app import create_app
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> client = TestClient(create_app(store), base_url="http://127.0.0.1")
    >>> client.get("/health").json()["status"]
    'ok'
    >>> client.get("/api/search", params={"q": "un chat", "k": 1000}).json()["error"]
    'k_too_large'
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from siglip_retriever._version import __version__
from siglip_retriever.app.limits import Limits
from siglip_retriever.app.thumbnails import ThumbnailCache
from siglip_retriever.encoding.images import load_image
from siglip_retriever.errors import (
    ConfigurationError,
    ImageLoadError,
    MissingDependencyError,
    ServerUnavailableError,
    SiglipRetrieverError,
)
from siglip_retriever.search.hits import SearchHit
from siglip_retriever.search.retriever import Retriever

try:
    from fastapi import FastAPI, File, Form, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise MissingDependencyError("fastapi", "app", "The web app") from exc

if TYPE_CHECKING:
    from siglip_retriever.search.zero_shot import ZeroShotClassifier
    from siglip_retriever.store.entries import StoredItem
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["LOCAL_HOSTS", "STATIC_DIR", "ApiError", "Limits", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
"""The page's HTML, CSS and JavaScript."""

LOCAL_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
"""Host names accepted by default: this machine only."""

_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_DOC_PATHS = ("/docs", "/redoc")  # FastAPI's doc pages load their scripts from a CDN
_MAX_ID_CHARS = 512
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not in the store, or its file is gone"},
    413: {"description": "Upload or image larger than the limits"},
    422: {"description": "A parameter outside the limits, or a broken image"},
}


# -- response schemas (the OpenAPI docs show these) -----------------------------------------------


class ErrorBody(BaseModel):
    """Every error response."""

    error: str = Field(description="A stable code, such as 'k_too_large' or 'invalid_image'.")
    message: str = Field(description="What happened and what to do about it.")
    limit: int | float | None = Field(default=None, description="The limit that was passed, if any.")


class Hit(BaseModel):
    """One search result."""

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


class SearchResponse(BaseModel):
    """Hits of a search, best first."""

    query: str = Field(description="The text query, or the uploaded file's name, or the image id.")
    model: str
    score_kind: str = Field(description="'sigmoid' (probabilities), 'softmax' or 'cosine'.")
    hits: list[Hit]


class LabelProbability(BaseModel):
    """One label's probability."""

    label: str
    probability: float


class ClassifyResponse(BaseModel):
    """Zero-shot probabilities of the labels, most probable first."""

    image: str = Field(description="The uploaded file's name.")
    model: str
    score_kind: str = Field(description="'sigmoid': independent probabilities; 'softmax': they sum to 1.")
    templates: list[str]
    top: str
    labels: list[LabelProbability]


class Health(BaseModel):
    """The server is up."""

    status: str
    version: str
    model: str


class Info(BaseModel):
    """What the page shows about the store."""

    version: str
    model: str
    score_kind: str
    images: int
    texts: int
    limits: dict[str, int]


# -- errors ---------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": message, ...}`` with an HTTP status.

    Example:
        >>> from siglip_retriever.app.api import ApiError
        >>> error = ApiError(422, "k_too_large", "k is at most 100", limit=100)
        >>> error.status, error.body()["limit"]
        (422, 100)
    """

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        return {"error": self.code, "message": self.message, **self.extra}

    def response(self) -> JSONResponse:
        """The error as a response."""
        return JSONResponse(self.body(), status_code=self.status)


# -- ASGI guard: host check, body limit, security headers ----------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Guard:
    """Checks the Host header, caps request bodies before they are parsed, adds security headers.

    A body over the limit is refused as soon as its Content-Length says so, or as soon as the
    bytes received pass the limit (chunked uploads), so a large upload is never held in full.
    """

    def __init__(self, app: ASGIApp, *, limits: Limits, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.limits = limits
        hosts = {h.lower().strip("[]") for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = str(scope.get("path", ""))
        secured = _with_headers(send, csp=not path.startswith(_DOC_PATHS))
        if not self.any_host and _host_name(headers.get("host", "")) not in self.hosts:
            error = ApiError(
                400,
                "invalid_host",
                "this server answers only requests addressed to "
                f"{', '.join(sorted(self.hosts))}; start it with another --bind to change that",
            )
            await error.response()(scope, receive, secured)
            return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            replay = await self._read_body(headers, receive)
            if isinstance(replay, ApiError):
                await replay.response()(scope, receive, secured)
                return
            receive = replay
        await self.app(scope, receive, secured)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> Receive | ApiError:
        limit = self.limits.max_upload_bytes
        too_large = ApiError(
            413,
            "upload_too_large",
            f"the upload is larger than the limit of {self.limits.upload_limit_text}; "
            "send a smaller image (or start the server with a larger --max-upload-mb)",
            limit=limit,
        )
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return ApiError(400, "invalid_request", "the Content-Length header is not a number")
            if int(declared) > limit:
                return too_large
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return ApiError(400, "invalid_request", "the client disconnected during the upload")
            body = bytes(message.get("body", b""))
            total += len(body)
            if total > limit:
                return too_large
            chunks.append(body)
            if not message.get("more_body", False):
                break
        data = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        return replay


def _host_name(header: str) -> str:
    """``'127.0.0.1:8080'`` -> ``'127.0.0.1'``; ``'[::1]:80'`` -> ``'::1'``."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _with_headers(send: Send, *, csp: bool) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                (b"x-frame-options", b"DENY"),
            ]
            if csp:
                extra.append((b"content-security-policy", _CSP.encode()))
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return wrapped


# -- the application ------------------------------------------------------------------------------


class _Service:
    """The work behind the routes, with one lock around the model (tokenizers are not re-entrant)."""

    def __init__(self, store: MultimodalStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self.retriever = Retriever(store)
        self.thumbnails = ThumbnailCache(
            limits.thumbnail_size, max_bytes=limits.thumbnail_cache_bytes, max_pixels=limits.max_pixels
        )
        self.model_lock = threading.Lock()
        self._classifiers: OrderedDict[tuple[tuple[str, ...], tuple[str, ...]], ZeroShotClassifier] = (
            OrderedDict()
        )

    # checks

    def check_k(self, k: int) -> int:
        if k < 1:
            raise ApiError(422, "invalid_request", f"k must be at least 1, not {k}")
        if k > self.limits.max_k:
            raise ApiError(
                422, "k_too_large", f"k is at most {self.limits.max_k}, not {k}", limit=self.limits.max_k
            )
        return k

    def check_query(self, query: str) -> str:
        if len(query) > self.limits.max_query_chars:
            raise ApiError(
                422,
                "query_too_long",
                f"the query has {len(query)} characters; the limit is {self.limits.max_query_chars}",
                limit=self.limits.max_query_chars,
            )
        if not query.strip():
            raise ApiError(422, "empty_query", "the query is empty; type what the picture should show")
        return query

    def decode_upload(self, upload: UploadFile | None) -> tuple[Image.Image, str]:
        """Read an uploaded image: the pixel limit is checked on the header, before decoding."""
        if upload is None:
            raise ApiError(422, "missing_image", "send an image file in the multipart form field 'image'")
        name = Path(upload.filename or "upload").name[:200] or "upload"
        data = upload.file.read()
        if not data:
            raise ApiError(422, "invalid_image", f"{name} is empty (zero bytes)")
        limit = self.limits.max_pixels
        try:
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
        except Image.DecompressionBombError:
            raise self._too_many_pixels(name, None) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise ApiError(
                422, "invalid_image", f"{name} is not an image, or is in a format Pillow cannot read"
            ) from None
        if width * height > limit:
            raise self._too_many_pixels(name, (width, height))
        try:
            return load_image(data, max_pixels=limit), name
        except ImageLoadError as exc:
            raise ApiError(422, "invalid_image", f"cannot read {name}: {exc.reason}") from None

    def _too_many_pixels(self, name: str, size: tuple[int, int] | None) -> ApiError:
        limit = self.limits.max_pixels
        described = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "too many pixels"
        return ApiError(
            413,
            "too_many_pixels",
            f"{name} has {described}; the limit is {limit:,} pixels. Send a smaller image.",
            limit=limit,
        )

    def stored_item(self, image_id: str) -> StoredItem:
        if len(image_id) > _MAX_ID_CHARS or not image_id:
            raise _not_found()
        items = self.store.get([image_id])
        if not items or items[0].kind != "image":
            raise _not_found()
        return items[0]

    def stored_file(self, image_id: str) -> Path:
        """The file of a stored image: the path the store recorded, only if it still exists."""
        item = self.stored_item(image_id)
        if not item.uri:
            raise ApiError(404, "not_found", "this image was stored without a file: nothing to serve")
        path = Path(item.uri)
        if not path.is_absolute() or not path.is_file():
            raise ApiError(
                404, "not_found", "the picture's file is gone; re-index its folder to update the store"
            )
        return path

    # work

    def search(self, query: str, k: int, min_prob: float | None) -> list[SearchHit]:
        with self.model_lock:
            return self.retriever.text_to_images(query, k=k, min_probability=min_prob)

    def similar_to_image(self, image: Image.Image, k: int, min_sim: float | None) -> list[SearchHit]:
        with self.model_lock:
            return self.retriever.image_to_images(image, k=k, min_similarity=min_sim, exclude_self=False)

    def similar_to_id(self, image_id: str, k: int, min_sim: float | None) -> list[SearchHit]:
        """Neighbours of a stored image from its stored vector: nothing is decoded or encoded."""
        self.stored_item(image_id)
        return self.retriever.similar_to_stored(image_id, k=k, kind="image", min_similarity=min_sim)

    def classifier(self, labels: list[str], templates: list[str]) -> ZeroShotClassifier:
        from siglip_retriever.search.zero_shot import DEFAULT_TEMPLATES, ZeroShotClassifier

        key = (tuple(labels), tuple(templates or DEFAULT_TEMPLATES))
        with self.model_lock:
            found = self._classifiers.get(key)
            if found is None:
                found = ZeroShotClassifier(list(key[0]), templates=key[1], encoder=self.store.encoder)
                self._classifiers[key] = found
                if len(self._classifiers) > 16:
                    self._classifiers.popitem(last=False)
            self._classifiers.move_to_end(key)
            return found

    def hit(self, hit: SearchHit, root: str) -> dict[str, Any]:
        data = hit.to_dict()
        data.pop("uri")
        data["name"] = Path(hit.uri).name if hit.uri else None
        data["metadata"] = {k: v for k, v in hit.metadata.items() if k != "uri"}
        base = f"{root}/api/images/{quote(hit.id, safe='')}"
        data["image_url"] = base if hit.uri else None
        data["thumbnail_url"] = f"{base}/thumbnail" if hit.uri else None
        return data


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no image with this id in the store")


def _split_labels(values: Sequence[str]) -> list[str]:
    labels: list[str] = []
    for value in values:
        for part in value.replace("\n", ",").split(","):
            if part.strip():
                labels.append(part.strip())
    return labels


def create_app(
    store: MultimodalStore,
    *,
    limits: Limits | None = None,
    allowed_hosts: Sequence[str] | None = None,
    title: str = "SigLIP image search",
) -> FastAPI:
    """The web app over ``store``: the search page and its REST API.

    Args:
        store: the store to search; its pictures are served by id.
        limits: what one request may ask for (default :class:`Limits`).
        allowed_hosts: host names the ``Host`` header may carry (default :data:`LOCAL_HOSTS`);
            ``["*"]`` accepts any, for a server deliberately exposed to a network.
        title: the page's and the API docs' title.

    Returns:
        A FastAPI application; run it with uvicorn, or use
        :func:`siglip_retriever.app.server.serve`.

    Example:
        >>> import tempfile
        >>> from fastapi.testclient import TestClient
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.app import Limits, create_app
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> app = create_app(store, limits=Limits(max_k=10))
        >>> client = TestClient(app, base_url="http://127.0.0.1")
        >>> client.get("/api/info").json()["limits"]["max_k"]
        10
        >>> client.get("/api/images/../../etc/passwd").status_code
        404
    """
    limits = limits or Limits()
    service = _Service(store, limits)
    app = FastAPI(
        title=title,
        version=__version__,
        description=(
            "Search pictures by text in any language, by example image, and classify images "
            "zero-shot with SigLIP's calibrated probabilities. Errors are JSON: "
            '`{"error": code, "message": text}`.'
        ),
    )
    app.state.store = store
    app.state.limits = limits
    app.state.thumbnails = service.thumbnails
    hosts = tuple(allowed_hosts) if allowed_hosts is not None else LOCAL_HOSTS
    app.add_middleware(_Guard, limits=limits, allowed_hosts=hosts)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body'))}: {e.get('msg')}"
            for e in exc.errors()
        )
        return ApiError(422, "invalid_request", problems or "invalid request").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = "no such page, file or API route; the API is documented at /docs"
        return ApiError(exc.status_code, code, message).response()

    @app.exception_handler(SiglipRetrieverError)
    async def _package_error(request: Request, exc: SiglipRetrieverError) -> JSONResponse:
        if isinstance(exc, (ConfigurationError, ImageLoadError)):
            return ApiError(422, "invalid_request", str(exc)).response()
        if isinstance(exc, ServerUnavailableError):
            return ApiError(503, "store_unavailable", str(exc)).response()
        logger.exception("request failed")
        return ApiError(500, "internal_error", str(exc)).response()

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def results(request: Request, query: str, score_kind: str, hits: list[SearchHit]) -> dict[str, Any]:
        return {
            "query": query,
            "model": store.model_name,
            "score_kind": score_kind,
            "hits": [service.hit(h, root(request)) for h in hits],
        }

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness: the server answers and the store's model is loaded."""
        return {"status": "ok", "version": __version__, "model": store.model_name}

    @app.get("/api/info", response_model=Info, tags=["service"])
    def info() -> dict[str, Any]:
        """The store's model, score kind and counts, and the server's limits."""
        return {
            "version": __version__,
            "model": store.model_name,
            "score_kind": store.score_kind,
            "images": store.count("image"),
            "texts": store.count("text"),
            "limits": limits.to_dict(),
        }

    @app.get("/api/search", response_model=SearchResponse, responses=_ERRORS, tags=["search"])
    def search(
        request: Request,
        q: Annotated[str, Query(description="What the picture should show, in any language.")],
        k: Annotated[int, Query(description="Number of hits (at most the server's max_k).")] = 12,
        min_prob: Annotated[
            float | None, Query(ge=0.0, le=1.0, description="Only hits with at least this probability.")
        ] = None,
    ) -> dict[str, Any]:
        """Images matching a text query, best first, with SigLIP's probability."""
        query = service.check_query(q)
        hits = service.search(query, service.check_k(k), min_prob)
        return results(request, query, store.score_kind, hits)

    @app.post("/api/similar", response_model=SearchResponse, responses=_ERRORS, tags=["search"])
    def similar(
        request: Request,
        image: Annotated[UploadFile | None, File(description="The example image.")] = None,
        k: Annotated[int, Query(description="Number of hits.")] = 12,
        min_sim: Annotated[
            float | None, Query(ge=-1.0, le=1.0, description="Only hits with at least this cosine.")
        ] = None,
    ) -> dict[str, Any]:
        """Stored images similar to an uploaded one, ranked by cosine similarity."""
        count = service.check_k(k)
        picture, name = service.decode_upload(image)
        return results(request, name, "cosine", service.similar_to_image(picture, count, min_sim))

    @app.get(
        "/api/images/{image_id}/similar", response_model=SearchResponse, responses=_ERRORS, tags=["search"]
    )
    def similar_to_stored(
        request: Request,
        image_id: str,
        k: Annotated[int, Query(description="Number of hits.")] = 12,
        min_sim: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    ) -> dict[str, Any]:
        """Stored images similar to a stored one (itself left out), from its stored vector."""
        hits = service.similar_to_id(image_id, service.check_k(k), min_sim)
        return results(request, image_id, "cosine", hits)

    @app.post("/api/classify", response_model=ClassifyResponse, responses=_ERRORS, tags=["zero-shot"])
    def classify(
        labels: Annotated[list[str], Form(description="Labels, comma- or newline-separated, any language.")],
        image: Annotated[UploadFile | None, File(description="The image to classify.")] = None,
        template: Annotated[
            list[str] | None, Form(description="Templates with {} for the label (default: 'a photo of {}.').")
        ] = None,
    ) -> dict[str, Any]:
        """Zero-shot: each label's probability for the image (independent for SigLIP)."""
        names = _split_labels(labels)
        templates = [t for t in (template or []) if t.strip()]
        if not names:
            raise ApiError(422, "invalid_request", "give at least one label")
        if len(names) > limits.max_labels:
            raise ApiError(
                422,
                "too_many_labels",
                f"{len(names)} labels; the limit is {limits.max_labels}",
                limit=limits.max_labels,
            )
        if len(templates) > limits.max_labels:
            raise ApiError(
                422, "too_many_labels", f"at most {limits.max_labels} templates", limit=limits.max_labels
            )
        longest = max(len(text) for text in [*names, *templates])
        if longest > limits.max_label_chars:
            raise ApiError(
                422,
                "label_too_long",
                f"a label or template has {longest} characters; the limit is {limits.max_label_chars}",
                limit=limits.max_label_chars,
            )
        picture, name = service.decode_upload(image)
        classifier = service.classifier(names, templates)
        with service.model_lock:
            result = classifier.classify([picture])[0]
        data = result.to_dict()
        data.update(image=name, model=store.model_name, templates=classifier.templates)
        return data

    @app.get(
        "/api/images/{image_id}",
        responses={200: {"content": {"image/*": {}}, "description": "The picture's file."}, **_ERRORS},
        response_class=FileResponse,
        tags=["images"],
    )
    def image_file(image_id: str) -> FileResponse:
        """A stored picture, read from the path the store recorded for this id."""
        path = service.stored_file(image_id)
        media_type = _media_type(path)
        return FileResponse(
            path,
            media_type=media_type,
            headers={"Cache-Control": "private, max-age=3600"},
            filename=path.name,
            content_disposition_type="inline",
        )

    @app.get(
        "/api/images/{image_id}/thumbnail",
        responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail."}, **_ERRORS},
        response_class=Response,
        tags=["images"],
    )
    def thumbnail(request: Request, image_id: str) -> Response:
        """A small JPEG of a stored picture (cached; ETag and Cache-Control for browsers)."""
        path = service.stored_file(image_id)
        try:
            thumb = service.thumbnails.get(path)
        except (ImageLoadError, OSError) as exc:
            raise ApiError(404, "not_found", f"the stored file is no longer a picture ({exc})") from None
        headers = {"ETag": thumb.etag, "Cache-Control": "private, max-age=86400"}
        if thumb.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(thumb.data, media_type=thumb.media_type, headers=headers)

    return app


def _media_type(path: Path) -> str:
    """The media type of a picture, from its content (a file that is no picture is not served)."""
    try:
        with Image.open(path) as image:
            fmt = image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ApiError(404, "not_found", "the stored file is no longer a readable picture") from None
    return Image.MIME.get(fmt or "", "application/octet-stream")
