"""Small JPEG thumbnails of stored pictures, kept in a bounded in-memory LRU cache.

A thumbnail's key is the picture's path, size on disk and modification time (and, for a picture
read out of a file that holds several, such as a PDF's page, which one: ``part``), so an edited
file gets a fresh thumbnail, and its ETag is a hash of that key: browsers revalidate with
``If-None-Match`` and get ``304 Not Modified`` without the bytes being sent again.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever.app.thumbnails import ThumbnailCache
    >>> cache, path = ThumbnailCache(size=128), Path(tempfile.mkdtemp()) / "big.png"
    >>> Image.new("RGB", (800, 400), "red").save(path)
    >>> thumb = cache.get(path)
    >>> thumb.media_type, thumb.width, thumb.height
    ('image/jpeg', 128, 64)
    >>> Image.new("RGB", (800, 200), "red").save(path)  # the file is edited: a new thumbnail
    >>> edited = cache.get(path)
    >>> edited.etag != thumb.etag, edited.height
    (True, 32)
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from siglip_retriever.encoding.images import DEFAULT_MAX_PIXELS, load_image

__all__ = ["Thumbnail", "ThumbnailCache"]


@dataclass(frozen=True)
class Thumbnail:
    """An encoded thumbnail and its validator.

    Attributes:
        data: the JPEG bytes.
        etag: a strong ETag (quoted), changing when the file or the thumbnail size changes.
        width, height: the thumbnail's size in pixels.
    """

    data: bytes
    etag: str
    width: int
    height: int
    media_type: str = "image/jpeg"


class ThumbnailCache:
    """Make thumbnails with Pillow and keep the most recently used ones in memory.

    Args:
        size: the longer side of a thumbnail in pixels (smaller pictures are not enlarged).
        max_bytes: memory for encoded thumbnails; the least recently used are dropped first.
        max_pixels: refuse to decode pictures larger than this (a decompression-bomb guard).
        quality: JPEG quality.

    Raises:
        ImageLoadError: (from :meth:`get`) the file cannot be read as a picture.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from PIL import Image
        >>> from siglip_retriever.app.thumbnails import ThumbnailCache
        >>> path = Path(tempfile.mkdtemp()) / "photo.png"
        >>> Image.new("RGB", (64, 48), "blue").save(path)
        >>> cache = ThumbnailCache(size=256)
        >>> first = cache.get(path)
        >>> cache.get(path) is first, (first.width, first.height), len(cache)
        (True, (64, 48), 1)
    """

    def __init__(
        self,
        size: int = 256,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        quality: int = 85,
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.quality = quality
        self._items: OrderedDict[tuple[str, int, int, str], Thumbnail] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def cached_bytes(self) -> int:
        """Bytes of encoded thumbnails held now."""
        return self._bytes

    def cached(self, path: str | Path, part: str = "") -> Thumbnail | None:
        """The cached thumbnail of the picture at ``path`` (its ``part``) if the file has not
        changed, else ``None`` (nothing is decoded)."""
        key = _key(Path(path), part)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def get(
        self, path: str | Path, part: str = "", read: Callable[[int], Image.Image] | None = None
    ) -> Thumbnail:
        """The thumbnail of the picture at ``path``, made now or taken from the cache.

        Args:
            path: the file.
            part: which picture of the file (``""``: the file is the picture).
            read: reads that picture, given the side wanted (default: the file decoded).
        """
        file = Path(path)
        found = self.cached(file, part)
        if found is not None:
            return found
        key = _key(file, part)
        if read is None:
            picture = load_image(file, target_size=self.size, max_pixels=self.max_pixels)
        else:
            picture = read(self.size)
        thumbnail = self._make(picture, key)
        with self._lock:
            if key not in self._items and len(thumbnail.data) <= self.max_bytes:
                self._items[key] = thumbnail
                self._bytes += len(thumbnail.data)
                while self._bytes > self.max_bytes:
                    _, dropped = self._items.popitem(last=False)
                    self._bytes -= len(dropped.data)
        return thumbnail

    def _make(self, image: Image.Image, key: tuple[str, int, int, str]) -> Thumbnail:
        image.thumbnail((self.size, self.size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.quality, optimize=True)
        digest = hashlib.sha256(f"{key}|{self.size}|{self.quality}".encode()).hexdigest()[:32]
        return Thumbnail(data=buffer.getvalue(), etag=f'"{digest}"', width=image.width, height=image.height)


def _key(file: Path, part: str) -> tuple[str, int, int, str]:
    """A thumbnail's cache key: the path, size and modification time of its file, and the part."""
    stat = file.stat()
    return (str(file), int(stat.st_size), int(stat.st_mtime_ns), part)
