"""What Ray indexing does with each file, decided on the driver as local indexing would.

Local indexing (:func:`siglip_retriever.store.indexing.index_files`) decides batch after batch
against the store as the previous batches left it. :func:`plan_batches` takes the same decisions,
with the same function (:func:`siglip_retriever.store.plan.decide`), before any picture is
embedded: it follows the entries' files through the decisions (an
:class:`~siglip_retriever.store.plan.EntryFiles`, as local indexing does). The workers then
embed only the files planned for embedding, and :class:`PlannedBatch` turns their results into
the same report and the same writes, batch after batch, through the same
:class:`~siglip_retriever.store.plan.BatchWriter`.

Example:
    >>> from siglip_retriever.store.distributed.plan import HashedFile, plan_batches
    >>> from siglip_retriever.store.plan import EntryFiles, FileFacts
    >>> files = [HashedFile(FileFacts(f"/p/{n}.png", 10, 1), "img-a") for n in "ab"]
    >>> [batch] = plan_batches([files], entries=EntryFiles({}))
    >>> [(f.file.path, f.decision.status) for f in batch.files if f.decision]
    [('/p/a.png', 'added'), ('/p/b.png', 'duplicate')]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from siglip_retriever.store.facts import PictureFacts
from siglip_retriever.store.plan import BatchWriter, Decision, EntryFiles, FileFacts, decide

if TYPE_CHECKING:
    from siglip_retriever.store.report import IndexReport
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["EmbedResult", "HashedFile", "PlannedBatch", "plan_batches"]


@dataclass
class HashedFile:
    """A changed file as the hashing tasks left it: its content id, or why it cannot be read."""

    file: FileFacts
    key: str = ""
    failure: str = ""
    decision: Decision | None = None
    row: int | None = None  # this file's embedding, numbered across the run
    depends_on: int | None = None  # row of this run's embedding that made it a duplicate or skip


@dataclass(frozen=True)
class EmbedResult:
    """One embedded file from the workers: its vector and picture facts, or why it failed."""

    vector: npt.NDArray[np.float32] | None
    width: int = 0
    height: int = 0
    failure: str = ""
    phash: str = ""
    taken: str = ""

    def facts(self) -> PictureFacts:
        """What the entry records of the picture."""
        return PictureFacts(self.phash or None, self.width, self.height, self.taken or None)


@dataclass
class PlannedBatch:
    """One batch of files, in local indexing's order, with what to do with each."""

    files: list[HashedFile]
    embed_rows: list[int] = field(default_factory=list)  # global rows of the files to embed

    def ready(self, results: Mapping[int, EmbedResult]) -> bool:
        """Whether every file of this batch that needs the model has its result."""
        return all(row in results for row in self.embed_rows)

    def apply(self, store: MultimodalStore, results: Mapping[int, EmbedResult], report: IndexReport) -> None:
        """Write this batch into ``store`` and record it in ``report``, as local indexing does."""
        writer = BatchWriter(store, report)
        for hashed in self.files:
            uri, decision = hashed.file.path, hashed.decision
            if decision is None:
                writer.unreadable(uri, hashed.failure)
                continue
            # local indexing would have decoded this copy of an undecodable picture too
            failed_with = results[hashed.depends_on].failure if hashed.depends_on is not None else ""
            if not writer.record(uri, hashed.key, decision, undecodable=failed_with):
                continue
            result = results[hashed.row if hashed.row is not None else -1]
            if result.failure or result.vector is None:
                writer.undecodable(uri, result.failure)
                continue
            writer.embedded(uri, hashed.key, decision, result.facts())
            writer.add_vectors(result.vector[np.newaxis])
        writer.commit()


def plan_batches(
    batches: Sequence[Sequence[HashedFile]],
    *,
    entries: EntryFiles,
    exists: Callable[[str], bool] | None = None,
) -> list[PlannedBatch]:
    """Decide every file, batch after batch, as local indexing decides them.

    Args:
        batches: the changed files in local indexing's batches (its batch size, its order).
        entries: the entries' files before this run, loaded (:meth:`EntryFiles.load`) for every
            key in ``batches`` and for the entries that hold their paths. It is updated in place
            to what the store holds after the run.
        exists: whether a file an entry records is still there (default: a local path).

    Returns:
        The batches, each file with its decision (``None`` for files that could not be read) and
        ``embed_rows`` numbered across the run in order.
    """
    planned: list[PlannedBatch] = []
    made_by: dict[str, int] = {}  # id -> row of this run's embedding that put it in the store
    row = 0
    for files in batches:
        batch = PlannedBatch(list(files))
        new_rows: dict[str, int] = {}
        for hashed in batch.files:
            if hashed.failure:
                continue
            decision = decide(hashed.file, hashed.key, entries, list(new_rows), exists)
            hashed.decision = decision
            if decision.embed:
                hashed.row = new_rows[hashed.key] = row
                batch.embed_rows.append(row)
                row += 1
                continue
            hashed.depends_on = new_rows[hashed.key] if hashed.key in new_rows else made_by.get(hashed.key)
        made_by.update(new_rows)
        entries.end_batch()  # the entries left with no file are deleted by this batch's commit
        for key in [key for key in made_by if key not in entries.files]:
            del made_by[key]
        planned.append(batch)
    return planned
