"""Which collection of a store is live: one record, so that a model change swaps atomically.

A store is opened by a name (``collection``, ``"siglip"`` by default). Until its first reindex the
collection of that name is the store. ``reindex`` (:mod:`siglip_retriever.store.reindexing`)
builds a new collection beside it with another model (``siglip__r1``, ``siglip__r2``...), and
when the new one is complete writes one record, the collection ``<name>__live`` whose metadata
say which collection is ``live``, which was live before it (``previous``, kept for
:meth:`StoreVersions.rollback` until :meth:`StoreVersions.drop_previous`), and which one a
reindex is ``building`` (so that the next reindex resumes it). Writing that record is one
chromadb call: readers see the old collection or the new one, never a mix.

Every store object reads the record when it opens. A long-running reader (the web app) calls
:meth:`StoreVersions.follow_live` before each request, or compares :func:`read_live` with its
store's ``collection_name`` and opens a new store object, so that requests in flight finish on
the collection they started with.

Example:
    >>> import tempfile
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> store = MultimodalStore(tempfile.mkdtemp(), model=build_checkpoint(tempfile.mkdtemp()))
    >>> store.live_record()
    LiveRecord(live='siglip', previous=None, building=None, building_model=None)
    >>> store.follow_live()  # nobody swapped it
    False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError, ServerUnavailableError

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.store.reindexing import ReindexReport

__all__ = [
    "LIVE_SUFFIX",
    "CollectionInfo",
    "LiveRecord",
    "StoreVersions",
    "drop_collection",
    "read_live",
    "write_live",
]

LIVE_SUFFIX = "__live"
"""The suffix of the name of a store's live record (a collection with no entries)."""

_KEYS = ("live", "previous", "building", "building_model")


@dataclass(frozen=True)
class LiveRecord:
    """Which collections of a store are what.

    Attributes:
        live: the collection searches read and indexing writes.
        previous: the one live before the last swap (``rollback`` returns to it).
        building: a collection a reindex is building (an interrupted one: the next resumes it).
        building_model: the model it is built with.
    """

    live: str
    previous: str | None = None
    building: str | None = None
    building_model: str | None = None


@dataclass(frozen=True)
class CollectionInfo:
    """One collection of a store, as ``info`` shows it: its role, name, model and entry count."""

    role: str
    name: str
    model: str | None
    count: int


def _record_collection(client: Any, base: str, *, create: bool) -> Any:
    """The collection that holds ``base``'s live record (``None`` when absent and not created):
    one chromadb call, as a server reads it before each request."""
    from chromadb.errors import NotFoundError

    name = base + LIVE_SUFFIX
    try:
        if create:
            return client.get_or_create_collection(name, embedding_function=None)
        return client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return None
    except Exception as exc:
        raise ServerUnavailableError(f"cannot read the live record of collection {base!r}: {exc}") from exc


def read_live(client: Any, base: str) -> LiveRecord:
    """The live record of the store named ``base`` (its own collection when it has none)."""
    record = _record_collection(client, base, create=False)
    meta = (record.metadata or {}) if record is not None else {}
    values = {key: str(meta[key]) if meta.get(key) else None for key in _KEYS}
    return LiveRecord(
        values["live"] or base, values["previous"], values["building"], values["building_model"]
    )


def write_live(client: Any, base: str, record: LiveRecord) -> None:
    """Write the live record of the store named ``base`` (one chromadb call: atomic)."""
    collection = _record_collection(client, base, create=True)
    values = {"live": record.live, "previous": record.previous, "building": record.building}
    values["building_model"] = record.building_model
    collection.modify(metadata={key: value or "" for key, value in values.items()})


class StoreVersions:
    """The model-change API of :class:`~siglip_retriever.store.store.MultimodalStore` (which
    inherits it): the live record, reindexing, rollback.

    Example:
        >>> import tempfile
        >>> from siglip_retriever import MultimodalStore
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
        >>> [info.role for info in store.collections()]
        ['live']
    """

    client: Any
    base_collection: str
    collection_name: str
    encoder: SiglipEncoder

    def _attach(self, name: str, encoder: SiglipEncoder, *, create: bool) -> None:
        raise NotImplementedError  # MultimodalStore's

    def count(self, kind: Any = None, *, where: Any = None) -> int:
        raise NotImplementedError  # MultimodalStore's

    def live_record(self) -> LiveRecord:
        """The store's live record, as it is now."""
        return read_live(self.client, self.base_collection)

    def follow_live(self) -> bool:
        """Switch this store object to the live collection (and its model) if another store
        object or process swapped it since; whether it switched."""
        live = self.live_record().live
        if live == self.collection_name:
            return False
        self._attach(live, self._encoder_of(live), create=False)
        return True

    def reindex(
        self, model: str | Any, *, batch_size: int | None = None, show_progress: bool = False
    ) -> ReindexReport:
        """Build the store again with another model, beside the current collection, and swap
        to it when it is complete (see :mod:`siglip_retriever.store.reindexing`); this store
        object then reads the new collection."""
        from siglip_retriever.store.reindexing import reindex

        report = reindex(self, model, batch_size=batch_size, show_progress=show_progress)  # type: ignore[arg-type]
        self.follow_live()
        return report

    def rollback(self) -> str:
        """Make the previous collection live again (the current one becomes the previous);
        returns the name of the collection now live.

        Raises:
            ConfigurationError: there is no previous collection.
        """
        record = self.live_record()
        if record.previous is None:
            raise ConfigurationError(
                f"store {self.base_collection!r} has no previous collection to return to (no reindex "
                "swapped it, or the previous one was dropped)"
            )
        write_live(self.client, self.base_collection, LiveRecord(record.previous, record.live))
        self.follow_live()
        return record.previous

    def drop_previous(self) -> str | None:
        """Delete the previous collection (and its words), ending rollback; returns its name,
        ``None`` when there was none."""
        record = self.live_record()
        if record.previous is None:
            return None
        write_live(
            self.client,
            self.base_collection,
            LiveRecord(record.live, None, record.building, record.building_model),
        )
        drop_collection(self.client, record.previous)
        return record.previous

    def collections(self) -> list[CollectionInfo]:
        """The store's collections: ``live``, and ``previous`` and ``building`` when there are."""
        from siglip_retriever.store.collection import existing_metadata, recorded_model

        record = self.live_record()
        infos = [CollectionInfo("live", self.collection_name, self.encoder.preset.reference, self.count())]
        for role, name in (("previous", record.previous), ("building", record.building)):
            if name is None:
                continue
            meta = existing_metadata(self.client, name, name)
            if meta is None:
                continue
            count = int(self.client.get_collection(name, embedding_function=None).count())
            infos.append(CollectionInfo(role, name, recorded_model(meta), count))
        return infos

    def _encoder_of(self, name: str) -> SiglipEncoder:
        """An encoder of the model collection ``name`` was built with (this store's device and
        batch size)."""
        from siglip_retriever.encoding.encoder import resolve_encoder
        from siglip_retriever.store.collection import existing_metadata, recorded_model

        model = recorded_model(existing_metadata(self.client, name, name))
        if model is None or model == self.encoder.preset.reference:
            return self.encoder
        return resolve_encoder(
            None, model=model, device=self.encoder.device, batch_size=self.encoder.batch_size
        )


def drop_collection(client: Any, name: str) -> None:
    """Delete collection ``name`` and its words collection, those of them that are there."""
    from siglip_retriever.store.words import words_collection_name

    names = {str(getattr(c, "name", c)) for c in client.list_collections()}
    for doomed in (name, words_collection_name(name)):
        if doomed in names:
            client.delete_collection(doomed)
