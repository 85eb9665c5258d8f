"""Distributed indexing on Ray into a Chroma server (the ``ray`` extra).

The driver scans and decides as local indexing does; Ray tasks read, hash, decode and preprocess
files; an actor pool of encoders (one model per actor, a GPU each when the cluster has GPUs)
embeds them; the driver writes each batch into the store. The store ends up exactly as
:func:`~siglip_retriever.store.indexing.index_folder` leaves it: same content-hash ids, vectors,
metadata, skips and failure report.

Modules, one job each: :mod:`.cluster` (Ray, or a clear error without it), :mod:`.plan` (the
driver's decisions and writes), :mod:`.stages` (what Ray runs), :mod:`.indexer` (the pipeline).
Importing this package does not import Ray.

Example (needs a Ray cluster and a Chroma server, so it is not run as a doctest)::

    from siglip_retriever import MultimodalStore
    from siglip_retriever.store.distributed import index_distributed

    store = MultimodalStore.connect("db.local", 8000, model="demo")
    print(index_distributed(store, "/shared/photos", ray_address="auto", num_workers=4).summary())
"""

from __future__ import annotations

from siglip_retriever.store.distributed.indexer import index_distributed

__all__ = ["index_distributed"]
