"""Repeated text query on a 100k-entry store: the Retriever's result cache against no cache.

Run: ``python benchmarks/query_cache.py`` (about a minute: most of it writes 100k vectors).
It prints p50/p95 of ``Retriever.text_to_images`` for a query asked before (cached: no model
forward, no chromadb call), the same with ``cache_size=0`` (the query vector still comes from
the encoder's cache: the search alone), and a fresh query (text forward + search), in one run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from query_by_kind import filled_store

from siglip_retriever import Retriever


def percentiles_ms(call: Callable[[], object], rounds: int = 200) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2], 1000 * times[int(len(times) * 0.95)]


def main(n: int = 100_000) -> None:
    store, _ = filled_store(n)
    cached, uncached = Retriever(store, k=10), Retriever(store, k=10, cache_size=0)
    query = "a red bicycle by the sea"
    cached.text_to_images(query)
    uncached.text_to_images(query)
    hit = percentiles_ms(lambda: cached.text_to_images(query))
    miss = percentiles_ms(lambda: uncached.text_to_images(query))
    fresh_texts = iter(f"{query} #{i}" for i in range(1000))
    fresh = percentiles_ms(lambda: uncached.text_to_images(next(fresh_texts)), rounds=100)
    assert cached.text_to_images(query) == uncached.text_to_images(query)
    print(
        f"{n:,} entries, k=10, p50 / p95: repeated query, result cache {hit[0]:.3f} / {hit[1]:.3f} ms; "
        f"without it {miss[0]:.2f} / {miss[1]:.2f} ms ({miss[0] / hit[0]:.0f}x); "
        f"fresh query (tiny model forward + search) {fresh[0]:.2f} / {fresh[1]:.2f} ms"
    )
    store.close()


if __name__ == "__main__":
    main()
