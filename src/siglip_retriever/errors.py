"""The package's one exception tree.

Every error this package raises on purpose derives from :class:`SiglipRetrieverError`, so one
``except SiglipRetrieverError`` catches them all. Several also derive from the matching built-in
exception, so code that already catches ``ValueError``, ``TypeError`` or ``ImportError`` keeps
working::

    SiglipRetrieverError
    ├── ConfigurationError (ValueError)      a bad option or argument value
    │   ├── InvalidTemplateError             a zero-shot template that is not text with one {}
    │   └── LimitExceededError               a count above its limit (k above the most a search returns)
    ├── InputTypeError (TypeError)           an input of the wrong type (None, a number for a text)
    ├── ModelLoadError                       a checkpoint that cannot be found or loaded
    │   └── UnknownPresetError (KeyError)    a preset name that does not exist
    ├── ImageLoadError (ValueError)          an image that cannot be read; names the input
    │   ├── RemoteImageError                 an image URL that could not be fetched
    │   │   └── UrlNotAllowedError           a URL the policy refuses (URLs off, scheme, host)
    │   ├── PdfError                         a PDF that cannot be read at all (damaged, encrypted, empty)
    │   └── VideoError                       a video that cannot be read at all (not a video, codec)
    ├── EncodeQueueError                     an encode a batching queue could not take (closed)
    │   └── EncodeTimeoutError (TimeoutError) an encode no forward pass took within its timeout
    ├── MissingDependencyError (ImportError) an optional extra that is not installed
    └── StoreError                           a vector-store problem
        ├── ModelMismatchError               a store built with another model
        ├── ServerUnavailableError           a Chroma server that does not answer
        └── StoreBusyError                   an embedded store another process has open

Messages say what happened and what to do about it.

Example:
    >>> from siglip_retriever.errors import ImageLoadError, SiglipRetrieverError
    >>> try:
    ...     raise ImageLoadError("photo.jpg", "file not found")
    ... except SiglipRetrieverError as exc:
    ...     print(exc)
    cannot load image photo.jpg: file not found
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from siglip_retriever.store.report import IndexReport

__all__ = [
    "ConfigurationError",
    "EncodeQueueError",
    "EncodeTimeoutError",
    "ImageLoadError",
    "InputTypeError",
    "InvalidTemplateError",
    "LimitExceededError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelMismatchError",
    "PdfError",
    "RemoteImageError",
    "ServerUnavailableError",
    "SiglipRetrieverError",
    "StoreBusyError",
    "StoreError",
    "UnknownPresetError",
    "UrlNotAllowedError",
    "VideoError",
]


class SiglipRetrieverError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(SiglipRetrieverError, ValueError):
    """An option or argument has a value that cannot work (a negative batch size, say)."""


class InvalidTemplateError(ConfigurationError):
    """A zero-shot prompt template that is not text with exactly one ``{}`` where the label goes
    (see :func:`siglip_retriever.search.templates.parse_template`)."""


class LimitExceededError(ConfigurationError):
    """A count above its limit: ``k`` or ``fetch_k`` above the most one search returns (the
    package's, or a server's lower one).

    Attributes:
        option: the option's name.
        value: the value given.
        limit: the most it may be.

    Example:
        >>> from siglip_retriever.errors import LimitExceededError
        >>> print(LimitExceededError("k", 500, 100))
        k must be at most 100, not 500
    """

    def __init__(self, option: str, value: int, limit: int) -> None:
        super().__init__(f"{option} must be at most {limit}, not {value}")
        self.option, self.value, self.limit = option, value, limit


class InputTypeError(SiglipRetrieverError, TypeError):
    """An input has the wrong type, for example ``None`` where a text was expected."""


class ModelLoadError(SiglipRetrieverError):
    """A checkpoint could not be found or loaded."""


class UnknownPresetError(ModelLoadError, KeyError):
    """A model name is neither a preset, a local directory nor a plausible hub id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ImageLoadError(SiglipRetrieverError, ValueError):
    """An image input could not be turned into a picture.

    Attributes:
        source: the input as a user would recognise it: a path, or a short description of the
            input's kind (``"bytes (12 B)"``, ``"numpy array (3, 4)"``).
        reason: why it failed.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"cannot load image {source}: {reason}")

    def __reduce__(self) -> tuple[type[ImageLoadError], tuple[str, str]]:
        return (type(self), (self.source, self.reason))


class RemoteImageError(ImageLoadError):
    """An image URL could not be fetched: a timeout, a reply too large, an HTTP error, a page that
    is not an image, too many redirects. ``source`` is the URL (its query string left out)."""


class UrlNotAllowedError(RemoteImageError):
    """A URL the :class:`~siglip_retriever.encoding.remote.UrlPolicy` refuses: URLs are off (the default),
    a scheme other than http(s), a host not on the allow-list, or a redirect to one of those."""


class PdfError(ImageLoadError):
    """A PDF file that cannot be read at all: missing, empty, not a PDF or damaged, encrypted
    (it needs a password), or without pages. A page that fails inside a readable PDF is not this
    error: :func:`~siglip_retriever.encoding.pdf.read_pdf` names it and reads the other pages.

    Attributes:
        source: the file's path (or ``"bytes (N B)"``).
        reason: why it cannot be read.

    Example:
        >>> from siglip_retriever.errors import PdfError
        >>> print(PdfError("report.pdf", "encrypted (needs a password)"))
        cannot read PDF report.pdf: encrypted (needs a password)
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(source, reason)
        self.args = (f"cannot read PDF {source}: {reason}",)


class VideoError(ImageLoadError):
    """A video file that cannot be read at all: missing, empty, not a video or damaged, without
    a video stream, or in a codec the bundled FFmpeg cannot decode (the message names the codec).
    A part that fails inside a readable video (a truncated end) is not this error:
    :func:`~siglip_retriever.encoding.video.read_video` names it and reads the rest.

    Attributes:
        source: the file's path.
        reason: why it cannot be read.

    Example:
        >>> from siglip_retriever.errors import VideoError
        >>> print(VideoError("clip.mov", "no video stream (an audio file?)"))
        cannot read video clip.mov: no video stream (an audio file?)
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(source, reason)
        self.args = (f"cannot read video {source}: {reason}",)


class EncodeQueueError(SiglipRetrieverError):
    """A :class:`~siglip_retriever.encoding.queue.EncodeQueue` could not take an encode: it is closed."""


class EncodeTimeoutError(EncodeQueueError, TimeoutError):
    """An encode waited in a :class:`~siglip_retriever.encoding.queue.EncodeQueue` longer than its
    caller's timeout without a forward pass taking it (the model was busy with other requests); it
    is dropped, and the other requests go on."""


class MissingDependencyError(SiglipRetrieverError, ImportError):
    """An optional dependency is not installed; the message names the pip extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'siglip-retriever[{extra}]'"
        )

    def __reduce__(self) -> tuple[type[MissingDependencyError], tuple[str, str, str]]:
        purpose = str(self).split(" needs the ", 1)[0]
        return (type(self), (self.package, self.extra, purpose))


class StoreError(SiglipRetrieverError):
    """A problem with the vector store.

    Attributes:
        report: when the error stopped :func:`~siglip_retriever.store.indexing.index_folder`, an
            :class:`~siglip_retriever.store.report.IndexReport` of the files that were written before
            it (``None`` otherwise). Running the same indexing again finishes the work.
    """

    report: IndexReport | None = None


class ModelMismatchError(StoreError):
    """A store was opened with a model other than the one that built it."""


class ServerUnavailableError(StoreError):
    """A Chroma server could not be reached."""


class StoreBusyError(StoreError):
    """An embedded (on-disk) store is open in another process.

    chromadb's embedded store is safe for one process at a time only: the message names the
    store's directory and the process holding it, and says what to do (wait with
    ``lock_timeout``, close the other process, or use a Chroma server for several processes).
    """
