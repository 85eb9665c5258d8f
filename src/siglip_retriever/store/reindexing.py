"""A model change without downtime: the store built again with another model, beside the live
collection, then swapped to in one write.

:func:`reindex` reads every entry of the live collection a batch at a time and writes it, with
the new model's vector, into a new collection (``<name>__r<n>``, with its words collection): a
picture is read again from its file (an image file, a PDF's page, a video's frame: what
:func:`~siglip_retriever.store.pictures.entry_picture` reads), a stored text is embedded again,
and the words of pictures are copied and embedded by the new text tower. Each entry is embedded
once, whatever number of files hold it; its metadata (files, facts, the caller's keys) is kept.
Searches keep answering from the live collection meanwhile. When every entry is written, the
live record (:mod:`siglip_retriever.store.live`) names the new collection ``live`` and the old
one ``previous``, in one write; a previous one from an earlier swap is deleted then.

A run that stops half-way (killed, a server gone) leaves the live collection as it was: the
record says which collection was being built and with which model, and the next reindex with
that model resumes it, embedding only the entries it lacks. Entries that cannot be embedded
again (a file gone or unreadable, a picture added as bytes without a file) are reported in
``failed`` and are not in the new collection: add them again after the swap.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever import MultimodalStore
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("RGB", (32, 32), "red").save(folder + "/red.png")
    >>> store = MultimodalStore(tempfile.mkdtemp(), model=build_checkpoint(tempfile.mkdtemp(), seed=1))
    >>> _ = store.index_folder(folder, ocr="off"); _ = store.add_texts(["a red square"])
    >>> report = store.reindex(build_checkpoint(tempfile.mkdtemp(), seed=2))
    >>> report.embedded, report.failed, store.collection_name
    (2, [], 'siglip__r1')
    >>> store.rollback()
    'siglip'
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError, ImageLoadError, MissingDependencyError
from siglip_retriever.store.facts import prepare_picture
from siglip_retriever.store.live import LiveRecord, drop_collection, read_live, write_live
from siglip_retriever.store.metadata import KIND, URI
from siglip_retriever.store.pictures import entry_picture, file_is_picture
from siglip_retriever.store.report import FailedFile

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["ReindexReport", "reindex"]

_NAME = re.compile(r"__r(\d+)$")


@dataclass
class ReindexReport:
    """What a reindex did.

    Attributes:
        collection: the collection built (live now, unless nothing could be swapped).
        previous: the collection that was live before (``rollback`` returns to it).
        model: the model the new collection is built with.
        embedded: entries embedded by this run.
        resumed: entries an interrupted run had written already (not embedded again).
        failed: entries that could not be embedded again (the path or id, and why).
        seconds: how long the run took.
    """

    collection: str
    previous: str
    model: str
    embedded: int = 0
    resumed: int = 0
    failed: list[FailedFile] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: what was built, from what, and how it went."""
        resumed = f", {self.resumed} resumed" if self.resumed else ""
        return (
            f"{self.collection} ({self.model}) is live, {self.previous} is the previous collection: "
            f"{self.embedded} embedded{resumed}, {len(self.failed)} failed in {self.seconds:.1f}s"
        )


def reindex(
    store: MultimodalStore,
    model: str | os.PathLike[str] | SiglipEncoder,
    *,
    batch_size: int | None = None,
    show_progress: bool = False,
) -> ReindexReport:
    """Build ``store`` again with ``model`` beside its live collection, then swap (see the
    module's notes). ``store`` itself keeps reading the collection it had open (its
    :meth:`~siglip_retriever.store.live.StoreVersions.follow_live` switches it).

    Raises:
        ConfigurationError: ``model`` is the model the store already uses.
        StoreError: the store failed mid-run (the live collection is unchanged; rerun to resume).
    """
    from siglip_retriever.encoding.encoder import SiglipEncoder, resolve_encoder
    from siglip_retriever.store.indexing import progress_bar
    from siglip_retriever.store.store import MultimodalStore

    started = time.perf_counter()
    size = batch_size or store.encoder.batch_size
    encoder = (
        model
        if isinstance(model, SiglipEncoder)
        else resolve_encoder(None, model=model, device=store.encoder.device, batch_size=size)
    )
    name = encoder.preset.reference
    record = read_live(store.client, store.base_collection)
    if name == store.encoder.preset.reference:
        raise ConfigurationError(f"store {store.base_collection!r} already uses model {name!r}")
    resume = record.building is not None and record.building_model == name
    if record.building is not None and not resume:  # another model's half-built collection
        drop_collection(store.client, record.building)
    target_name = record.building if resume and record.building else _next_name(store)
    write_live(
        store.client, store.base_collection, replace(record, building=target_name, building_model=name)
    )
    target = MultimodalStore(None, client=store.client, collection=target_name, encoder=encoder)
    if store.ocr_setting is not None:
        target.remember_ocr(store.ocr_setting)
    report = ReindexReport(target_name, record.live, name)
    done = {entry for entry, _ in target.iter_metadata()}
    bar = progress_bar(store.count(), show_progress)
    for batch in _batches(store, size):
        todo = [(entry, meta) for entry, meta in batch if entry not in done]
        report.resumed += len(batch) - len(todo)
        _copy(store, target, todo, report)
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    write_live(store.client, store.base_collection, LiveRecord(target_name, record.live))
    if record.previous is not None and record.previous not in (record.live, target_name):
        drop_collection(store.client, record.previous)  # one previous collection is kept, the last
    report.seconds = time.perf_counter() - started
    return report


def _batches(store: MultimodalStore, size: int) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    batch: list[tuple[str, dict[str, Any]]] = []
    for entry, meta in store.iter_metadata():
        batch.append((entry, dict(meta or {})))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy(
    store: MultimodalStore,
    target: MultimodalStore,
    todo: list[tuple[str, dict[str, Any]]],
    report: ReindexReport,
) -> None:
    """Embed one batch of entries with the target's model and write them there, words too."""
    encoder = target.encoder
    texts = [(entry, meta) for entry, meta in todo if meta.get(KIND) == "text"]
    if texts:
        documents = {item.id: item.text or "" for item in store.get([entry for entry, _ in texts])}
        ids = [entry for entry, _ in texts if entry in documents]
        vectors = encoder.encode_texts([documents[entry] for entry in ids])
        target.upsert_vectors(
            ids, vectors, [meta for entry, meta in texts if entry in documents], [documents[e] for e in ids]
        )
        report.embedded += len(ids)
    preparer = encoder.image_preparer()
    ids, metas, prepared = [], [], []
    for entry, meta in todo:
        if meta.get(KIND) == "text":
            continue
        try:
            prepared.append(prepare_picture(preparer, _picture(meta))[0])
        except (ImageLoadError, MissingDependencyError) as exc:
            reason = exc.reason if isinstance(exc, ImageLoadError) else str(exc)
            report.failed.append(FailedFile(str(meta.get(URI) or entry), reason))
            continue
        ids.append(entry)
        metas.append(meta)
    if not ids:
        return
    target.upsert_vectors(ids, encoder.encode_images(prepared), metas)
    report.embedded += len(ids)
    said = store.words(ids)
    for source in ("pdf", "ocr"):
        chosen = [entry for entry, words in said.items() if _words_source(words.engine) == source]
        target.set_words(chosen, [said[entry] for entry in chosen], source=source)


def _picture(meta: dict[str, Any]) -> Any:
    """What to decode for an entry: its image file, or its PDF page or video frame."""
    uri = meta.get(URI)
    if not isinstance(uri, str) or not uri:
        raise ImageLoadError("the entry", "it was stored without a file: add it again after the swap")
    return Path(uri) if file_is_picture(meta) else entry_picture(meta)


def _words_source(engine: str) -> str:
    from siglip_retriever.encoding.pdf import TEXT_LAYER

    return "pdf" if engine == TEXT_LAYER else "ocr"


def _next_name(store: MultimodalStore) -> str:
    """``<name>__r<n>``, ``n`` one more than any such collection there is."""
    base = store.base_collection
    numbers = [0]
    for collection in store.client.list_collections():
        name = str(getattr(collection, "name", collection))
        match = _NAME.search(name)
        if name.startswith(base + "__r") and match is not None:
            numbers.append(int(match.group(1)))
    return f"{base}__r{max(numbers) + 1}"
