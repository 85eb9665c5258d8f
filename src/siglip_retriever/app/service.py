"""The work behind the web app's routes: checks, uploads, searches, zero-shot and stored pictures.

:class:`SearchService` holds what the routes share: the store, one
:class:`~siglip_retriever.search.retriever.Retriever` (every hit, score and threshold comes from
it, and its result cache serves repeated queries), one batching queue in front of the model (an
:class:`~siglip_retriever.encoding.queue.EncodeQueue`: the query texts and uploaded pictures of
concurrent requests share forward passes, :meth:`SearchService.encode_texts` and
:meth:`SearchService.encode_images`), the zero-shot classifiers of recent label sets and the
thumbnail cache. A refused request raises :class:`~siglip_retriever.app.errors.ApiError` with the
code the API documents; a request that cannot reach the model within ``busy_wait_seconds`` gets
``503 busy``.

Uploads and thumbnails are decoded in one of :attr:`Limits.max_concurrent_decodes
<siglip_retriever.app.limits.Limits.max_concurrent_decodes>` slots, on a pool of as many threads
(:meth:`SearchService.decode`),
straight to the model's input size (after a JPEG's reduced-scale decoding, resized with the
processor's own filter right after decoding), into what the model takes; a request that finds no free
slot within ``busy_wait_seconds`` gets ``503 busy`` with ``Retry-After``. So many large uploads at
once raise the server's memory by at most one decoded picture per slot.

The routes reach the app's service through the FastAPI dependency :func:`get_service`
(``request.app.state.service``, set by :func:`~siglip_retriever.app.api.create_app`): a route
parameter ``service: ServiceDep``.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.app.limits import Limits
    >>> from siglip_retriever.app.service import SearchService
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    >>> _ = store.add_images([Image.new("RGB", (24, 24), c) for c in ("red", "teal")])
    >>> service = SearchService(store, Limits(max_k=5))
    >>> [hit.rank for hit in service.search_text("un carré rouge", service.check_options({"k": 2}))]
    [1, 2]
    >>> service.check_options({"k": 6})
    Traceback (most recent call last):
    ...
    siglip_retriever.errors.LimitExceededError: k must be at most 5, not 6
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from siglip_retriever.app.errors import ApiError, not_found
from siglip_retriever.app.framework import Depends, Request, UploadFile
from siglip_retriever.app.limits import Limits
from siglip_retriever.app.media import part_key
from siglip_retriever.app.schemas import UPLOAD_RESPONSES
from siglip_retriever.app.thumbnails import Thumbnail, ThumbnailCache
from siglip_retriever.encoding.images import describe_source, enable_plugins
from siglip_retriever.encoding.queue import EncodeQueue
from siglip_retriever.errors import EncodeTimeoutError, ImageLoadError, InvalidTemplateError
from siglip_retriever.search.options import WEB_DEFAULTS
from siglip_retriever.search.retriever import Retriever
from siglip_retriever.search.templates import parse_template
from siglip_retriever.store.pictures import entry_picture

if TYPE_CHECKING:
    from siglip_retriever.encoding.preparing import PreparedImage
    from siglip_retriever.search.hits import SearchHit
    from siglip_retriever.search.zero_shot import Classification, ZeroShotClassifier
    from siglip_retriever.store.entries import StoredItem
    from siglip_retriever.store.store import MultimodalStore

__all__ = [
    "MAX_ID_CHARS",
    "UPLOAD_ROUTE",
    "MultipartOnly",
    "SearchService",
    "ServiceDep",
    "field_bytes",
    "get_service",
    "has_text",
    "require_multipart",
]

MAX_ID_CHARS = 512
"""Longest image id looked up; longer ids are ``404 not_found`` without a store lookup."""
_CLASSIFIERS_KEPT = 16
_T = TypeVar("_T")
_ClassifierKey = tuple[tuple[str, ...], tuple[str, ...]]
Vectors = npt.NDArray[np.float32]


class SearchService:
    """The routes' work over one store, within the server's limits.

    Args:
        store: the store to search; its pictures are served by id.
        limits: what one request may ask for.

    Attributes:
        store: the store.
        limits: the limits.
        retriever: the one retriever every search goes through, with the web's default search
            options (:data:`~siglip_retriever.search.options.WEB_DEFAULTS`).
        thumbnails: the thumbnail cache.
        queue: the batching queue every encode of the service goes through, for the store's current
            encoder, within ``limits.max_batch`` and ``limits.batch_wait_ms``.
        decode_slots: the decoding slots (:meth:`decode`).

    Example:
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.app.limits import Limits
        >>> from siglip_retriever.app.service import SearchService
        >>> service = SearchService(MultimodalStore.in_memory(model="demo"), Limits())
        >>> service.check_query("un chat")
        'un chat'
        >>> service.stored_item("no-such-id")
        Traceback (most recent call last):
        ...
        siglip_retriever.app.errors.ApiError: no image with this id in the store
    """

    def __init__(
        self, store: MultimodalStore, limits: Limits, *, shared: SearchService | None = None
    ) -> None:
        self.store = store
        self.limits = limits
        self.queue = EncodeQueue(
            lambda: store.encoder, max_batch=limits.max_batch, max_wait_ms=limits.batch_wait_ms
        )
        self.retriever = Retriever(store, encode_query=self.encode_query, **WEB_DEFAULTS.as_kwargs())
        if shared is None:
            self.thumbnails = ThumbnailCache(
                limits.thumbnail_size, max_bytes=limits.thumbnail_cache_bytes, max_pixels=limits.max_pixels
            )
            self.decode_slots = threading.BoundedSemaphore(limits.max_concurrent_decodes)
            self._decoders = ThreadPoolExecutor(
                limits.max_concurrent_decodes, thread_name_prefix="siglip-decode"
            )
            self._swap = threading.Lock()
        else:  # the same pictures, the same decoding threads: only the model and collection change
            self.thumbnails, self.decode_slots = shared.thumbnails, shared.decode_slots
            self._decoders, self._swap = shared.decoders, shared.swap_lock
        self._classifiers: OrderedDict[_ClassifierKey, ZeroShotClassifier] = OrderedDict()
        self._classifiers_lock = threading.Lock()
        self._next: SearchService | None = None

    @property
    def decoders(self) -> ThreadPoolExecutor:
        """The decoding threads (shared by the services of one app)."""
        return self._decoders

    @property
    def swap_lock(self) -> threading.Lock:
        """Held while the app moves to a new live collection (one move at a time)."""
        return self._swap

    def following_live(self) -> SearchService:
        """This service, or, when a reindex (here or in another process) swapped the store's
        live collection since, the service of the new one (made once, then kept): its store
        object, batching queue and retriever. Requests already running finish on this one."""
        if self._next is not None:
            return self._next.following_live()
        if self.store.live_record().live == self.store.collection_name:
            return self
        with self._swap:
            if self._next is None:
                store = self.store
                fresh = type(store)(
                    None,
                    client=store.client,
                    collection=store.base_collection,
                    device=store.encoder.device,
                    batch_size=store.encoder.batch_size,
                )
                fresh.sole_writer = store.sole_writer
                self._next = SearchService(fresh, self.limits, shared=self)
        return self._next

    # -- checks -----------------------------------------------------------------------------------

    def check_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """A request's search options, when they are good over the web's defaults and ``k`` and
        ``fetch_k`` are within ``limits.max_k``.

        Raises:
            ConfigurationError: a bad option or combination (``422 invalid_request``).
            LimitExceededError: ``k`` or ``fetch_k`` above ``limits.max_k`` (``422 k_too_large``).
        """
        self.retriever.options.merged(**given).within(self.limits.max_k)
        return given

    def check_query(self, query: str) -> str:
        """``query`` if it has text and at most ``limits.max_query_chars`` characters."""
        if len(query) > self.limits.max_query_chars:
            raise ApiError(
                422,
                "query_too_long",
                f"the query has {len(query)} characters; the limit is {self.limits.max_query_chars}",
                limit=self.limits.max_query_chars,
            )
        if not has_text(query):
            raise ApiError(422, "empty_query", "the query is empty; type what the picture should show")
        return query

    def check_labels(self, labels: Sequence[str], templates: Sequence[str]) -> tuple[list[str], list[str]]:
        """The labels (stripped, duplicates dropped) and templates of a zero-shot request.

        Refuses no labels, a blank one, more labels or templates than ``limits.max_labels``, one
        longer than ``limits.max_label_chars``, and a template that is not text with exactly one
        ``{}`` (``invalid_template``, see :func:`~siglip_retriever.search.templates.parse_template`).
        """
        limit = self.limits.max_labels
        if not labels:
            raise ApiError(422, "invalid_request", "give at least one label")
        if len(labels) > limit:
            raise ApiError(422, "too_many_labels", f"{len(labels)} labels; the limit is {limit}", limit=limit)
        if len(templates) > limit:
            raise ApiError(422, "too_many_labels", f"at most {limit} templates", limit=limit)
        longest = max(len(text) for text in [*labels, *templates])
        if longest > self.limits.max_label_chars:
            raise ApiError(
                422,
                "label_too_long",
                f"a label or template has {longest} characters; the limit is {self.limits.max_label_chars}",
                limit=self.limits.max_label_chars,
            )
        if not all(has_text(label) for label in labels):
            raise ApiError(
                422, "invalid_request", "a label is empty; send each label as its own 'labels' field"
            )
        for template in templates:
            try:
                parse_template(template)
            except InvalidTemplateError as exc:
                raise ApiError(422, "invalid_template", str(exc)) from None
        return list(dict.fromkeys(label.strip() for label in labels)), list(templates)

    def decode(self, work: Callable[..., _T], *args: Any) -> _T:
        """``work(*args)`` (decoding a picture) run on one of the decoding threads, holding one of
        the decoding slots; ``503 busy`` (with ``Retry-After``) when no slot frees up within
        ``limits.busy_wait_seconds``.

        The threads are a fixed pool of ``limits.max_concurrent_decodes``: the memory the
        allocator keeps after a large decode is reused by that thread's next one, where a decode
        on each request's own thread would leave that much behind in every thread's arena.
        """
        if not self.decode_slots.acquire(timeout=self.limits.busy_wait_seconds):
            raise _busy(f"the server is decoding {self.limits.max_concurrent_decodes} pictures already")
        try:
            return self._decoders.submit(work, *args).result()
        finally:
            self.decode_slots.release()

    def decode_upload(self, upload: UploadFile | str | None) -> tuple[PreparedImage, str]:
        """An uploaded image, decoded and preprocessed for the model in a decoding slot, and its
        file name; the pixel limit is checked on the header, before decoding.

        ``upload`` is the form's ``image`` part: a file, or the text the form parser made of a
        part sent without a ``filename`` (which RFC 7578 allows), turned back into its bytes."""
        if upload is None:
            raise ApiError(422, "missing_image", "send an image file in the multipart form field 'image'")
        if isinstance(upload, str):
            name, data = "upload", field_bytes(upload)
        else:
            name = Path(upload.filename or "upload").name[:200] or "upload"
            data = upload.file.read()
        if not data:
            raise ApiError(422, "invalid_image", f"{name} is empty (zero bytes)")
        limit = self.limits.max_pixels
        enable_plugins()  # HEIC uploads from phones
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
            return self.decode(self.store.encoder.prepare_image, data), name
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

    # -- stored pictures --------------------------------------------------------------------------

    def stored_item(self, image_id: str) -> StoredItem:
        """The stored image with this id; ``not_found`` for any other id (texts included)."""
        if len(image_id) > MAX_ID_CHARS or not image_id:
            raise not_found()
        items = self.store.get([image_id])
        if not items or items[0].kind != "image":
            raise not_found()
        return items[0]

    def stored_file(self, image_id: str) -> tuple[StoredItem, Path]:
        """A stored image and its file: the path the store recorded, only if it still exists (a
        PDF entry's file is the PDF)."""
        item = self.stored_item(image_id)
        if not item.uri:
            raise not_found("this image was stored without a file: nothing to serve")
        path = Path(item.uri)
        if not path.is_absolute() or not path.is_file():
            raise not_found("the picture's file is gone; re-index its folder to update the store")
        return item, path

    def rendered(self, item: StoredItem) -> bytes:
        """The picture of an entry whose file holds several (a PDF's page rendered or its figure,
        a video's moment: its frame), as PNG, made in a decoding slot from the one page or frame it
        needs; ``not_found`` when it cannot be read now."""

        def render() -> bytes:
            buffer = io.BytesIO()
            entry_picture(item.metadata).save(buffer, format="PNG")
            return buffer.getvalue()

        try:
            return self.decode(render)
        except (ImageLoadError, OSError) as exc:
            raise not_found(f"the picture cannot be read from its file now ({_reason(exc)})") from None

    def thumbnail(self, image_id: str) -> Thumbnail:
        """The thumbnail of a stored image (a PDF entry's: of its page or figure; a video's moment:
        of its frame), from the cache or made now."""
        item, path = self.stored_file(image_id)
        part = part_key(item.metadata)
        read = (lambda side: entry_picture(item.metadata, side=side)) if part else None
        try:
            found = self.thumbnails.cached(path, part)
            if found is not None:
                return found
            return self.decode(self.thumbnails.get, path, part, read)
        except (ImageLoadError, OSError) as exc:
            raise not_found(f"the stored file is no longer a picture ({_reason(exc)})") from None

    # -- the model ----------------------------------------------------------------------------------

    def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """The ``(len(texts), dim)`` vectors of ``texts``, as the store's encoder gives them,
        through :attr:`queue` (in forward passes shared with other requests).

        Raises:
            ApiError: ``503 busy`` (with ``Retry-After``) when a forward pass does not take them
                within ``limits.busy_wait_seconds``.
        """
        return self._queued(self.queue.encode_texts, list(texts))

    def encode_images(self, prepared: Sequence[PreparedImage]) -> Vectors:
        """The ``(len(prepared), dim)`` vectors of pictures prepared for the store's encoder
        (:meth:`decode_upload`), through :attr:`queue`; ``503 busy`` as :meth:`encode_texts`."""
        return self._queued(self.queue.encode_images, list(prepared))

    def encode_query(self, query: str) -> Vectors:
        """One text query's ``(dim,)`` vector, from the encoder's query cache or through
        :attr:`queue` (the retriever's ``encode_query``); ``503 busy`` as :meth:`encode_texts`."""
        return self._queued(self.queue.encode_query, query)

    def _queued(self, encode: Callable[..., Vectors], given: Any) -> Vectors:
        try:
            return encode(given, timeout=self.limits.busy_wait_seconds)
        except EncodeTimeoutError:
            raise _busy("the model is busy with other requests") from None

    # -- searches and zero-shot -------------------------------------------------------------------

    def search_text(self, query: str, options: dict[str, Any]) -> list[SearchHit]:
        """Entries for a text query (images unless ``options`` say otherwise)."""
        return self.retriever.search_text(query, **options)

    def similar_to_image(self, image: PreparedImage, options: dict[str, Any]) -> list[SearchHit]:
        """Stored entries similar to an uploaded image (itself included if it is stored)."""
        vector = self.encode_images([image])[0]
        return self.retriever.by_vector(vector, query_kind="image", **options)

    def similar_to_id(self, image_id: str, options: dict[str, Any]) -> list[SearchHit]:
        """Neighbours of a stored image from its stored vector: nothing is decoded or encoded."""
        self.stored_item(image_id)
        return self.retriever.similar_to_stored(image_id, **options)

    def classify(
        self, image: PreparedImage, labels: list[str], templates: list[str]
    ) -> tuple[Classification, list[str]]:
        """Zero-shot probabilities of ``labels`` for ``image``, and the templates used (the
        default ones when ``templates`` is empty)."""
        from siglip_retriever.search.zero_shot import DEFAULT_TEMPLATES, Classification

        classifier = self._classifier((tuple(labels), tuple(templates or DEFAULT_TEMPLATES)))
        row = classifier.probabilities(self.encode_images([image]))[0]
        probabilities = {label: float(p) for label, p in zip(classifier.labels, row, strict=True)}
        classification = Classification(describe_source(image), probabilities, classifier.score_kind)
        return classification, classifier.templates

    def _classifier(self, key: _ClassifierKey) -> ZeroShotClassifier:
        """The classifier of ``(labels, templates)`` for the store's current encoder, kept for the
        most recent label sets."""
        from siglip_retriever.search.zero_shot import ZeroShotClassifier

        encoder = self.store.encoder
        with self._classifiers_lock:
            found = self._classifiers.get(key)
            if found is None or found.encoder is not encoder:  # new labels, or the store's model changed
                found = ZeroShotClassifier(list(key[0]), templates=key[1], encoder=encoder)
                self._classifiers[key] = found
                if len(self._classifiers) > _CLASSIFIERS_KEPT:
                    self._classifiers.popitem(last=False)
            self._classifiers.move_to_end(key)
            return found


def _busy(what: str) -> ApiError:
    """``503 busy`` with ``Retry-After``: ``what`` keeps the request from going on now."""
    return ApiError(
        503, "busy", f"{what}; send the request again in a few seconds", headers={"Retry-After": "5"}
    )


def _reason(exc: Exception) -> str:
    """An error as a reason a response may give: an image error's reason (it names no path)."""
    return exc.reason if isinstance(exc, ImageLoadError) else (getattr(exc, "strerror", None) or "unreadable")


def field_bytes(text: str) -> bytes:
    """The bytes of a multipart part the form parser decoded as text (as UTF-8 when they were valid
    UTF-8, else as Latin-1: Starlette's rule).

    A picture file is never valid UTF-8 as a whole, so its bytes come back exactly; only a text
    could be read either way, and a text is no picture whichever bytes it gives.

    Example:
        >>> from siglip_retriever.app.service import field_bytes
        >>> field_bytes(b"\\x89PNG\\r\\n\\xff".decode("latin-1")), field_bytes("日本")
        (b'\\x89PNG\\r\\n\\xff', b'\\xe6\\x97\\xa5\\xe6\\x9c\\xac')
    """
    if text.isascii() or any(ord(char) > 255 for char in text):
        return text.encode("utf-8")
    as_latin1 = text.encode("latin-1")
    try:
        as_latin1.decode("utf-8")
    except UnicodeDecodeError:
        return as_latin1  # not UTF-8: the parser read it as Latin-1
    return text.encode("utf-8")  # valid UTF-8 would have been read as UTF-8: it was


def has_text(text: str) -> bool:
    """Whether ``text`` has a character other than white space (``str.isspace``): what the API
    schema's ``pattern`` for queries and labels says (:data:`~siglip_retriever.app.schemas.NOT_BLANK`).

    Example:
        >>> from siglip_retriever.app.service import has_text
        >>> has_text(" chat "), has_text("\\u3000\\n")
        (True, False)
    """
    return bool(text.strip())


async def get_service(request: Request) -> SearchService:
    """The app's service (``request.app.state.service``), for routes to depend on.

    A coroutine, so FastAPI calls it on the event loop rather than in a worker thread. Before
    each request it asks the store's live record whether a reindex swapped the collection
    (:meth:`SearchService.following_live`): the request then runs on the new collection's service,
    and every request runs on one service from start to end.

    Example:
        >>> import asyncio
        >>> from types import SimpleNamespace
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.app.limits import Limits
        >>> from siglip_retriever.app.service import SearchService, get_service
        >>> service = SearchService(MultimodalStore.in_memory(model="demo"), Limits())
        >>> request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(service=service)))
        >>> asyncio.run(get_service(request)) is service  # no reindex swapped the store
        True
    """
    service: SearchService = request.app.state.service
    current = await asyncio.to_thread(service.following_live)  # a reindex swapped: the new one
    if current is not service:
        request.app.state.service = current
    return current


ServiceDep = Annotated[SearchService, Depends(get_service)]
"""A route parameter ``service: ServiceDep`` receives the app's :class:`SearchService`."""


async def require_multipart(request: Request) -> None:
    """Refuse a request body that is not ``multipart/form-data`` (``415 unsupported_media_type``);
    a request with no body at all goes on, to be told which field is missing.

    Example:
        >>> import asyncio
        >>> from types import SimpleNamespace
        >>> from siglip_retriever.app.service import require_multipart
        >>> json_body = SimpleNamespace(headers={"content-type": "application/json", "content-length": "2"})
        >>> asyncio.run(require_multipart(json_body))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        siglip_retriever.app.errors.ApiError: send the image as multipart/form-data (a file field ...
    """
    content_type = request.headers.get("content-type", "")
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        return
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the image as multipart/form-data (a file field 'image'), not "
            f"{content_type.split(';', 1)[0].strip()[:100] or 'a body without a Content-Type'}",
        )


MultipartOnly = Depends(require_multipart)
"""A route dependency (``dependencies=[MultipartOnly]``) for the upload routes."""

UPLOAD_ROUTE: dict[str, Any] = {"responses": UPLOAD_RESPONSES, "dependencies": [MultipartOnly]}
"""What every upload route declares (``@router.post(path, ..., **UPLOAD_ROUTE)``): the errors it
answers with and the multipart check."""
