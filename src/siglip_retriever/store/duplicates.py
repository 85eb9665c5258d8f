"""Near-duplicate pictures: group the files of a store that hold the same photo, and suggest which to keep.

A group joins pictures that are the same photo (the pages and figures of PDFs are left out: they
are not files of their own):

- byte-identical files (one entry of the store, several paths:
  :func:`~siglip_retriever.store.files.stored_files`);
- copies whose perceptual hashes (the 64-bit pHash each image entry records at indexing,
  :mod:`siglip_retriever.store.fingerprints`) differ by at most ``max_bits`` bits: resized,
  recompressed, re-encoded in another format, EXIF-rotated, cropped by a few percent. This works
  with any model, the tiny demo model included, as it never looks at the embeddings;
- optionally (``similar``), pictures whose embeddings have at least that cosine similarity: burst
  shots and near-identical scenes. What cosine means "the same scene" depends on the model: try
  0.95 on a real SigLIP and look at the groups before trusting it.

Nothing is compared all against all: hash pairs come from a multi-index of the fingerprints
(:func:`~siglip_retriever.store.hash_index.near_pairs`), cosine pairs from the store's own
nearest-neighbour queries, and pairs are joined into groups by union-find
(:func:`~siglip_retriever.store.hash_index.join_pairs`).

Each group lists every file with its size in bytes, its pixel size and its date (when it was
taken, from EXIF, else when the file was last modified), and suggests which one to keep: the
largest pixel size (a camera RAW file's sensor size), a camera RAW file before the JPEG the
camera wrote beside it, then the oldest date. Nothing is deleted or moved.

The JSON form of a group (:meth:`DuplicateGroup.to_dict`)::

    {"files": [{"id": str, "path": str | null, "size": int | null, "width": int | null,
                "height": int | null, "date": str | null (ISO 8601),
                "date_source": "taken" | "modified" | null, "bits": int | null,
                "similarity": float | null, "keep": bool}, ...],
     "keep": str | null (the kept file's path), "reasons": ["identical" | "picture" | "similar", ...],
     "reclaimable_bytes": int}

Example:
    >>> from siglip_retriever.store.duplicates import DuplicateFile, DuplicateGroup
    >>> kept = DuplicateFile("img-1", "/p/a.jpg", 900, 640, 480, "2019-07-14T16:02:11", "taken", 0, keep=True)
    >>> copy = DuplicateFile("img-2", "/q/a.png", 300, 320, 240, "2020-01-01T00:00:00+00:00", "modified", 6)
    >>> DuplicateGroup((kept, copy), ("picture",)).to_dict()["files"][1]["bits"]
    6
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.store.facts import picture_facts
from siglip_retriever.store.files import StoredFile, stored_files
from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS, hash_distance
from siglip_retriever.store.hash_index import check_bits, join_pairs, near_pairs
from siglip_retriever.store.metadata import KIND, PART

if TYPE_CHECKING:
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["DuplicateFile", "DuplicateGroup", "DuplicateGroups", "Reason", "find_duplicates"]

_READ = 500  # entries per store read when gathering the groups' facts

Reason = Literal["identical", "picture", "similar"]
"""Why files are in one group: the same bytes, the same picture (hash), similar embeddings."""
_REASONS: tuple[Reason, ...] = ("identical", "picture", "similar")


# -- groups of files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateFile:
    """One file of a :class:`DuplicateGroup` (``None``: not known).

    Attributes:
        id: the store entry holding its content (byte-identical files share one).
        path: the file (``None`` for a picture added without a file).
        size: its size in bytes.
        width, height: the picture's size in pixels, as shown.
        date: when it was taken (EXIF), else when the file was last modified, as ISO 8601 text.
        date_source: ``"taken"`` or ``"modified"``: where ``date`` comes from.
        bits: how many bits its fingerprint differs from the kept file's (0: the same picture).
        similarity: the cosine of its embedding and the kept file's (when ``similar`` was asked).
        keep: whether this is the file the group suggests keeping.

    Example:
        >>> from siglip_retriever.store.duplicates import DuplicateFile
        >>> DuplicateFile("img-1", "/p/a.jpg", 2048, 640, 480, "2019-07-14T16:02:11", "taken").pixels
        307200
    """

    id: str
    path: str | None
    size: int | None
    width: int | None
    height: int | None
    date: str | None
    date_source: Literal["taken", "modified"] | None
    bits: int | None = None
    similarity: float | None = None
    keep: bool = False

    @property
    def pixels(self) -> int:
        """``width * height`` (0 when not known)."""
        return (self.width or 0) * (self.height or 0)

    def to_dict(self) -> dict[str, Any]:
        """The file as JSON-ready data (the schema in the module's docstring)."""
        data = asdict(self)
        data["similarity"] = None if self.similarity is None else round(self.similarity, 4)
        return data


@dataclass(frozen=True)
class DuplicateGroup:
    """Files that hold the same picture, the one to keep first; nothing is deleted or moved.

    Attributes:
        files: every file of the group: the suggested keeper (largest pixel size, then oldest
            date) first, the others in the same order.
        reasons: why they are grouped: ``"identical"`` (the same bytes), ``"picture"``
            (fingerprints within ``max_bits``), ``"similar"`` (embeddings within ``similar``).

    Example:
        >>> from siglip_retriever.store.duplicates import DuplicateFile, DuplicateGroup
        >>> big = DuplicateFile("img-1", "/p/a.jpg", 900, 640, 480, None, None, 0, keep=True)
        >>> small = DuplicateFile("img-2", "/q/a.png", 300, 320, 240, None, None, 4)
        >>> group = DuplicateGroup((big, small), ("picture",))
        >>> group.keep.path, group.reclaimable_bytes, group.to_dict()["keep"]
        ('/p/a.jpg', 300, '/p/a.jpg')
    """

    files: tuple[DuplicateFile, ...]
    reasons: tuple[Reason, ...]

    @property
    def keep(self) -> DuplicateFile:
        """The file the group suggests keeping."""
        return self.files[0]

    @property
    def reclaimable_bytes(self) -> int:
        """The bytes the other files take (those whose size is known)."""
        return sum(item.size or 0 for item in self.files[1:])

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON-ready data (the schema in the module's docstring)."""
        return {
            "files": [item.to_dict() for item in self.files],
            "keep": self.keep.path,
            "reasons": list(self.reasons),
            "reclaimable_bytes": self.reclaimable_bytes,
        }


class DuplicateGroups(list[DuplicateGroup]):
    """The groups :func:`find_duplicates` found (a list), and what it could not look at.

    Attributes:
        checked: the image entries looked at.
        unhashed: those without a fingerprint (indexed by an earlier version): only the
            byte-identical copies indexing recorded (and, with ``similar``, similar pictures) can
            be found.
        max_bits, similar: the thresholds used.

    Example:
        >>> from siglip_retriever.store.duplicates import DuplicateGroups
        >>> groups = DuplicateGroups([], checked=10, unhashed=2, max_bits=12, similar=None)
        >>> groups.message.startswith("2 of 10 pictures have no fingerprint")
        True
        >>> sorted(groups.to_dict())
        ['checked', 'groups', 'max_bits', 'message', 'similar', 'unhashed']
    """

    def __init__(
        self,
        groups: Iterable[DuplicateGroup] = (),
        *,
        checked: int,
        unhashed: int,
        max_bits: int,
        similar: float | None,
    ) -> None:
        super().__init__(groups)
        self.checked = checked
        self.unhashed = unhashed
        self.max_bits = max_bits
        self.similar = similar

    @property
    def message(self) -> str | None:
        """What to do about entries without a fingerprint (``None`` when every entry has one)."""
        if not self.unhashed:
            return None
        return (
            f"{self.unhashed} of {self.checked} pictures have no fingerprint (indexed by an earlier "
            "version), so their resized or converted copies cannot be found: run 'siglip-retriever "
            "index' on their folders again to record it (their pictures are not embedded again)"
        )

    def to_dict(self) -> dict[str, Any]:
        """The groups and counts as JSON-ready data (the schema in the module's docstring)."""
        return {
            "max_bits": self.max_bits,
            "similar": self.similar,
            "checked": self.checked,
            "unhashed": self.unhashed,
            "message": self.message,
            "groups": [group.to_dict() for group in self],
        }


# -- the store's duplicates ------------------------------------------------------------------------


def find_duplicates(
    store: MultimodalStore,
    *,
    max_bits: int = SAME_PICTURE_BITS,
    similar: float | None = None,
    neighbours: int = 10,
) -> DuplicateGroups:
    """The groups of the store's image files that hold the same picture (see the module's docstring).

    Args:
        store: the store whose image entries are grouped.
        max_bits: fingerprints at most this many bits apart are the same picture (0 to 20; the
            default, 12, takes resized, recompressed, re-encoded, EXIF-rotated and lightly
            cropped copies, and no distinct photos).
        similar: also group pictures whose embeddings have at least this cosine similarity
            (burst shots, near-identical scenes). Model-dependent; reads the nearest neighbours
            of every picture from the store (in batches), so slower on large stores.
            ``None``: fingerprints only.
        neighbours: with ``similar``, how many nearest pictures of each are looked at.

    Returns:
        The groups, largest reclaimable size first, with the counts of what was looked at.

    Raises:
        ConfigurationError: a threshold out of range.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.store.duplicates import find_duplicates
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> _ = store.add_images([Image.new("RGB", (32, 32), "red")])
        >>> groups = find_duplicates(store)
        >>> len(groups), groups.checked
        (0, 1)
    """
    check_bits(max_bits)
    if similar is not None and (isinstance(similar, bool) or not -1.0 <= similar <= 1.0):
        raise ConfigurationError(f"similar is a cosine similarity from -1 to 1, not {similar!r}; try 0.95")
    if isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 1:
        raise ConfigurationError(f"neighbours must be a positive whole number, not {neighbours!r}")
    ids, hashes, known, several = _read_entries(store)
    hashed = np.flatnonzero(known)
    picture = hashed[near_pairs(hashes[hashed], max_bits)]
    close = (
        _similar_pairs(store, ids, similar, neighbours) if similar is not None else np.empty((0, 2), np.int64)
    )
    members = join_pairs(len(ids), np.concatenate([picture, close]))
    grouped = {index for group in members for index in group}
    members += [[index] for index in sorted(set(several) - grouped)]  # copies of one picture only
    place = {index: n for n, group in enumerate(members) for index in group}
    reasons: list[set[Reason]] = [set() for _ in members]
    for index in several:
        reasons[place[index]].add("identical")
    for first, _ in picture.tolist():
        reasons[place[first]].add("picture")
    for first, _ in set(map(tuple, close.tolist())) - set(map(tuple, picture.tolist())):
        reasons[place[first]].add("similar")
    groups = _groups(
        store, [[ids[i] for i in group] for group in members], reasons, with_vectors=similar is not None
    )
    unhashed = len(ids) - len(hashed)
    return DuplicateGroups(groups, checked=len(ids), unhashed=unhashed, max_bits=max_bits, similar=similar)


def _read_entries(
    store: MultimodalStore,
) -> tuple[list[str], npt.NDArray[np.uint64], npt.NDArray[np.bool_], list[int]]:
    """The image entries' ids, fingerprints (as numbers), whether each has one, and the
    indexes of those whose content is in several files; read in pages, kept small."""
    ids: list[str] = []
    values: list[int] = []
    several: list[int] = []
    for entry_id, metadata in store.iter_metadata():
        if metadata.get(KIND) != "image" or PART in metadata:  # a PDF's page or figure is no file
            continue
        code = picture_facts(metadata).phash
        values.append(int(code, 16) if code else -1)
        if len(stored_files(metadata)) > 1:
            several.append(len(ids))
        ids.append(entry_id)
    known = np.array([value >= 0 for value in values], dtype=bool)
    hashes = np.array([max(value, 0) for value in values], dtype=np.uint64)
    return ids, hashes, known, several


def _similar_pairs(
    store: MultimodalStore, ids: Sequence[str], similar: float, neighbours: int
) -> npt.NDArray[np.int64]:
    """Pairs of entries whose embeddings have at least ``similar`` cosine similarity: the
    ``neighbours`` nearest entries of each picture's stored vector, asked of the store's
    collection :data:`_READ` pictures per query (far fewer round trips than one query each), with the
    store's retries. Neighbours that are not pictures (texts) are left out."""
    index = {entry: n for n, entry in enumerate(ids)}
    wanted = min(neighbours + 1, store.count())
    pairs = []
    for start in range(0, len(ids), _READ):
        items = [
            item
            for item in store.get(ids[start : start + _READ], include_vectors=True)
            if item.vector is not None
        ]
        if not items:
            continue
        ask = partial(
            store.collection.query,
            query_embeddings=np.stack([item.vector for item in items if item.vector is not None]),
            n_results=wanted,
            include=["distances"],
        )
        found = store.retry.call(ask, "query", store.location)
        for item, others, distances in zip(items, found["ids"], found["distances"], strict=True):
            for other, distance in zip(others, distances, strict=True):
                if other != item.id and other in index and 1.0 - float(distance) >= similar:
                    pairs.append(sorted((index[item.id], index[other])))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def _groups(
    store: MultimodalStore, members: list[list[str]], reasons: list[set[Reason]], *, with_vectors: bool
) -> list[DuplicateGroup]:
    """The :class:`DuplicateGroup` of each list of entry ids, files in keeping order."""
    wanted = [entry for group in members for entry in group]
    metadata: dict[str, dict[str, Any]] = {}
    vectors: dict[str, npt.NDArray[np.float32]] = {}
    for start in range(0, len(wanted), _READ):
        chunk = wanted[start : start + _READ]
        metadata.update(store.lookup(chunk))
        if with_vectors:
            vectors.update(
                (item.id, item.vector)
                for item in store.get(chunk, include_vectors=True)
                if item.vector is not None
            )
    groups = []
    for group, why in zip(members, reasons, strict=True):
        ordered = sorted(
            (pair for entry in group for pair in _files(entry, metadata.get(entry, {}))),
            key=lambda pair: pair[0],
        )
        files = [item for _, item in ordered]
        keeper = files[0]
        code = {entry: picture_facts(metadata.get(entry)).phash for entry in group}
        ranked = []
        for n, item in enumerate(files):
            mine, theirs = code[item.id], code[keeper.id]
            bits = hash_distance(mine, theirs) if mine and theirs else None
            similarity = _cosine(vectors.get(item.id), vectors.get(keeper.id)) if with_vectors else None
            ranked.append(replace(item, bits=bits, similarity=similarity, keep=n == 0))
        order: list[Reason] = [r for r in _REASONS if r in why]
        groups.append(DuplicateGroup(tuple(ranked), tuple(order)))
    groups.sort(key=lambda group: (-group.reclaimable_bytes, group.keep.path or ""))
    return groups


def _files(
    entry: str, metadata: dict[str, Any]
) -> list[tuple[tuple[int, bool, float, float, str], DuplicateFile]]:
    """One :class:`DuplicateFile` per file holding an entry's content (one without a path when it
    was stored from no file), each with its keeping order: the largest pixel size first (a
    camera RAW file's sensor size), a camera RAW file before the same picture in another file,
    then the oldest date (EXIF, else the file's time, to the nanosecond recorded), then the path."""
    facts = picture_facts(metadata)
    sensor = (facts.sensor_width or 0) * (facts.sensor_height or 0)
    files = []
    stored: list[StoredFile | None] = [*stored_files(metadata)]
    for item in stored or [None]:
        modified = item.modified if item is not None and item.modified else None
        date, source = _date(facts.taken, modified)
        size = item.size if item is not None and item.size >= 0 else None
        path = item.path if item is not None else None
        found = DuplicateFile(entry, path, size, facts.width, facts.height, date, source)
        later = float("inf") if modified is None else modified
        taken = _timestamp(facts.taken) if facts.taken else later
        key = (-max(found.pixels, sensor), not sensor, taken, later, path or "")
        files.append((key, found))
    return files


def _date(
    taken: str | None, modified: float | None
) -> tuple[str | None, Literal["taken", "modified"] | None]:
    """The date a file is kept by: when it was taken, else when it was modified (ISO 8601)."""
    if taken:
        return taken, "taken"
    if modified is not None:
        return datetime.fromtimestamp(modified, timezone.utc).isoformat(timespec="seconds"), "modified"
    return None, None


def _timestamp(date: str | None) -> float:
    """Seconds since the epoch of an ISO 8601 date (a date without an offset read as UTC);
    infinity when there is none."""
    if not date:
        return float("inf")
    try:
        moment = datetime.fromisoformat(date)
    except ValueError:
        return float("inf")
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _cosine(a: npt.NDArray[np.float32] | None, b: npt.NDArray[np.float32] | None) -> float | None:
    if a is None or b is None:
        return None
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else None
