"""What distributed indexing does with each file, decided on the driver as local indexing would.

Local indexing (:func:`siglip_retriever.indexing.index_files`) decides batch after batch against
the store as the previous batches left it. :func:`plan_batches` takes the same decisions, with the
same helper (``indexing._decide``), before any picture is embedded: it keeps a copy of what the
store would hold after each batch (``id -> uri``). The workers then embed only the files planned
for embedding, and :class:`PlannedBatch` turns their results into the same report and the same
writes, batch after batch.

Example:
    >>> from siglip_retriever.distributed.plan import HashedFile, plan_batches
    >>> files = [HashedFile("/p/a.png", 1, 10, "img-a"), HashedFile("/p/b.png", 1, 10, "img-a")]
    >>> [batch] = plan_batches([files], known={}, stored={})
    >>> [(f.uri, f.decision.status) for f in batch.files if f.decision]
    [('/p/a.png', 'added'), ('/p/b.png', 'duplicate')]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.indexing import FailedFile, IndexedFile, IndexReport, _decide, _Decision
from siglip_retriever.store import KIND

__all__ = ["EmbedResult", "HashedFile", "PlannedBatch", "plan_batches"]


@dataclass
class HashedFile:
    """A changed file as the hashing tasks left it: its content id, or why it cannot be read."""

    uri: str
    mtime_ns: int
    size: int
    key: str = ""
    failure: str = ""
    decision: _Decision | None = None
    row: int | None = None  # this file's embedding, numbered across the run
    depends_on: int | None = None  # row of this run's embedding that made it a duplicate or skip
    path: str = ""  # where the tasks read it on a pyarrow filesystem; empty: the local path ``uri``


@dataclass(frozen=True)
class EmbedResult:
    """One embedded file from the workers: its vector and picture size, or why it failed."""

    vector: npt.NDArray[np.float32] | None
    width: int = 0
    height: int = 0
    failure: str = ""


@dataclass
class PlannedBatch:
    """One batch of files, in local indexing's order, with what to do with each."""

    files: list[HashedFile]
    embed_rows: list[int] = field(default_factory=list)  # global rows of the files to embed

    def ready(self, results: Mapping[int, EmbedResult]) -> bool:
        """Whether every file of this batch that needs the model has its result."""
        return all(row in results for row in self.embed_rows)

    def apply(self, store: Any, results: Mapping[int, EmbedResult], report: IndexReport) -> None:
        """Write this batch into ``store`` and record it in ``report``, as local indexing does.

        Order as in ``indexing._index_batch``: file facts of touched entries, then the new
        vectors, then the deletion of replaced pictures; read failures before decoding failures.
        The batch's files go into ``report`` once its writes are done.
        """
        done = IndexReport(report.folder)
        undecodable: list[FailedFile] = []
        ids: list[str] = []
        vectors: list[npt.NDArray[np.float32]] = []
        metas: list[dict[str, Any]] = []
        replaced: list[str] = []
        for file in self.files:
            decision = file.decision
            if decision is None:
                done.failed.append(FailedFile(file.uri, file.failure))
                continue
            replaced.extend(decision.previous)
            if file.depends_on is not None and results[file.depends_on].failure:
                # local indexing would have decoded this copy of an undecodable picture too
                undecodable.append(FailedFile(file.uri, results[file.depends_on].failure))
                continue
            if decision.touch:
                store._update_files([file.key], [decision.meta])  # as index_folder, with retries
            if not decision.embed:
                done.skipped.append(IndexedFile(file.uri, file.key, decision.status, decision.detail))
                continue
            result = results[file.row if file.row is not None else -1]
            if result.failure or result.vector is None:
                undecodable.append(FailedFile(file.uri, result.failure))
                continue
            ids.append(file.key)
            vectors.append(result.vector)
            metas.append({**decision.meta, KIND: "image", "width": result.width, "height": result.height})
            outcome = done.updated if decision.status == "updated" else done.added
            outcome.append(IndexedFile(file.uri, file.key, decision.status))
        done.failed.extend(undecodable)
        if ids:
            store._upsert(ids, np.stack(vectors).astype(np.float32, copy=False), metas)
        if replaced:
            store.delete(ids=replaced)
        for name in ("added", "updated", "skipped", "failed"):
            getattr(report, name).extend(getattr(done, name))


def plan_batches(
    batches: Sequence[Sequence[HashedFile]],
    *,
    known: dict[str, list[tuple[str, int, int]]],
    stored: dict[str, Any],
    exists: Callable[[str], bool] | None = None,
) -> list[PlannedBatch]:
    """Decide every file, batch after batch, against the store as the earlier batches leave it.

    Args:
        batches: the changed files in local indexing's batches (its batch size, its order).
        known: ``uri -> [(id, mtime_ns, size)]`` of the store's file entries before this run.
        stored: ``id -> uri`` of the store's entries, for at least every key in ``batches``.
            It is updated in place to what the store holds after the run.
        exists: whether the file a stored uri names is still there (default: a local path).

    Returns:
        The batches, each file with its decision (``None`` for files that could not be read) and
        ``embed_rows`` numbered across the run in order.
    """
    planned: list[PlannedBatch] = []
    made_by: dict[str, int] = {}  # id -> row of this run's embedding that put it in the store
    row = 0
    for files in batches:
        batch = PlannedBatch(list(files))
        # local indexing looks ids up once per batch, before it writes: the batch's own changes
        # to the store (touched, new and deleted entries) apply after its last decision
        new_ids: list[str] = []
        new_rows: dict[str, tuple[int, str]] = {}
        touched: list[tuple[str, str]] = []
        deleted: list[str] = []
        for file in batch.files:
            if file.failure:
                continue
            decision = _decide(file.uri, file.mtime_ns, file.size, file.key, known, stored, new_ids, exists)
            file.decision = decision
            deleted.extend(decision.previous)
            if decision.embed:
                file.row = row
                new_ids.append(file.key)
                new_rows[file.key] = (row, file.uri)
                batch.embed_rows.append(row)
                row += 1
                continue
            file.depends_on = new_rows[file.key][0] if file.key in new_rows else made_by.get(file.key)
            if decision.touch:
                touched.append((file.key, file.uri))
        stored.update(touched)
        for key, (embedding, uri) in new_rows.items():
            stored[key] = uri
            made_by[key] = embedding
        for key in deleted:
            stored.pop(key, None)
            made_by.pop(key, None)
        planned.append(batch)
    return planned
