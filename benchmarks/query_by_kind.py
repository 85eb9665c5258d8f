"""Query latency by kind on a 100k-entry store: MultimodalStore.query against chromadb's filter.

Run: ``python benchmarks/query_by_kind.py`` (about a minute: most of it writes 100k vectors).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

import numpy as np

from siglip_retriever import MultimodalStore
from siglip_retriever.tiny import build_checkpoint


def p50_ms(call: Callable[[], object], rounds: int = 20) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def filled_store(n: int) -> tuple[MultimodalStore, np.ndarray]:
    """An embedded store on a tiny model holding ``n`` random unit vectors, half images, half texts."""
    store = MultimodalStore(tempfile.mkdtemp(), model=build_checkpoint(tempfile.mkdtemp()), device="cpu")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, store.encoder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    metadatas = [{"kind": "image" if i % 2 else "text"} for i in range(n)]
    store.upsert_vectors([f"id{i}" for i in range(n)], vectors, metadatas)
    return store, vectors


def main(n: int = 100_000) -> None:
    store, vectors = filled_store(n)
    query = vectors[0]
    ours = p50_ms(lambda: store.query(query, k=10, kind="image"))
    filtered = p50_ms(
        lambda: store.collection.query(query_embeddings=[query], n_results=10, where={"kind": "image"})
    )
    print(
        f"{n:,} entries, k=10, kind=image, p50: MultimodalStore.query {ours:.1f} ms, "
        f"chromadb metadata filter {filtered:.1f} ms ({filtered / ours:.0f}x)"
    )


if __name__ == "__main__":
    main()
