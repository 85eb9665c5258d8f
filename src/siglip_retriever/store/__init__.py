"""The store layer: vectors in and out of Chroma, and the indexing of image files.

It sits on the encoding layer and imports nothing above it. Its modules, one job each:

- :mod:`.store`: :class:`MultimodalStore`, images and texts in one chromadb collection (embedded
  on disk, in memory, or on a Chroma server): add, look up, write ready vectors, update file
  facts, delete, get, query;
- :mod:`.entries`: what an entry is: content-hash ids, kinds, :class:`StoredItem`;
- :mod:`.metadata`: every metadata key this package writes, and which are internal bookkeeping;
- :mod:`.files`: :class:`StoredFile`, a file holding an entry's bytes, as entries record them;
- :mod:`.fingerprints` and :mod:`.facts`: a picture's perceptual hash, and the facts an image
  entry records of its picture (fingerprint, size, EXIF date);
- :mod:`.collection`: the collection and the record of the model that built it;
- :mod:`.embedding_function`: the chromadb embedding function every collection is made with;
- :mod:`.clients`, :mod:`.locking`, :mod:`.retry`: chromadb clients, one process per embedded
  store, retries while a server is unreachable;
- :mod:`.scanning`, :mod:`.plan`, :mod:`.report`: finding image files, deciding what each one
  needs (one plan for every engine), and the report of a run;
- :mod:`.indexing` (in this process) and :mod:`.distributed` (on Ray): the indexing engines;
- :mod:`.hash_index` and :mod:`.duplicates`: hashes a few bits apart without comparing all
  pairs, and the groups of files that hold the same picture (``MultimodalStore.find_duplicates``).

The main names are importable from here: ``from siglip_retriever.store import MultimodalStore``.

Example:
    >>> from siglip_retriever.store import DEFAULT_COLLECTION, content_id
    >>> DEFAULT_COLLECTION, content_id("text", "hello")[:4]
    ('siglip', 'txt-')
"""

from __future__ import annotations

from siglip_retriever.store.entries import StoredItem, content_id
from siglip_retriever.store.files import StoredFile
from siglip_retriever.store.report import IndexReport
from siglip_retriever.store.store import DEFAULT_COLLECTION, DEFAULT_PATH, MultimodalStore

__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_PATH",
    "IndexReport",
    "MultimodalStore",
    "StoredFile",
    "StoredItem",
    "content_id",
]
