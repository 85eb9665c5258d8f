"""Grouping near-duplicate fingerprints at scale: store/hash_index.py's multi-index on 10k-100k hashes.

Run: ``python benchmarks/duplicates.py`` (about half a minute; ``--sizes 10000,30000,100000``,
``--max-bits 12``, ``--store 20000`` to also time ``MultimodalStore.find_duplicates`` end to end on
a store of that many entries with synthetic metadata, and ``--similar 0.99`` to add its cosine
part, one nearest-neighbour query per entry).

Each size is a set of random 64-bit hashes, a fifth of them planted copies of others with 0 to
10 bits flipped (what resized, recompressed, rotated and cropped copies of a photo differ by),
grouped by :func:`siglip_retriever.store.hash_index.group_hashes` in one process, smallest first.
It prints the time, the process's peak RSS after the call, the peak of the memory a second call
allocated (traced by tracemalloc, which sees numpy's buffers) and that per hash, the planted pairs found
(all of them: the search is exact), and the chance pairs of unrelated random hashes within the
threshold.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np

from siglip_retriever.store.hash_index import group_hashes

COPIES = 0.2
"""The share of planted copies."""
FLIPPED = 10
"""A copy differs from its original in 0 to this many bits."""


def planted_hashes(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` hashes (a fifth of them copies of others) and, for each copy, its original's index."""
    rng = np.random.default_rng(seed)
    originals = count - int(count * COPIES)
    hashes = rng.integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)
    source = rng.integers(0, originals, count - originals)
    hashes[originals:] = hashes[source]
    for row in range(originals, count):
        for bit in rng.choice(64, int(rng.integers(0, FLIPPED + 1)), replace=False):
            hashes[row] ^= np.uint64(1) << np.uint64(bit)
    return hashes, source


def peak_rss_mib() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(count: int, max_bits: int) -> None:
    """Group ``count`` planted hashes and print one line of figures."""
    hashes, source = planted_hashes(count)
    start = time.perf_counter()
    groups = group_hashes(hashes, max_bits)
    seconds = time.perf_counter() - start
    rss = peak_rss_mib()
    tracemalloc.start()  # a second call, traced (tracing slows allocations down)
    assert group_hashes(hashes, max_bits) == groups
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    label = np.arange(count)
    for number, group in enumerate(groups):
        label[group] = count + number
    originals = count - len(source)
    found = int(np.count_nonzero(label[originals:] == label[source]))
    members = sum(len(group) for group in groups)
    print(
        f"{count:>7,} hashes, max {max_bits} bits: {seconds:6.2f} s ({1e6 * seconds / count:5.1f} us/hash), "
        f"{len(groups):,} groups of {members:,}; planted pairs found {found:,}/{len(source):,}; "
        f"call's peak allocation {peak / 2**20:6.1f} MiB ({peak / count:5.0f} B/hash); "
        f"process peak RSS {rss:6.0f} MiB",
        flush=True,
    )


def measure_store(count: int, max_bits: int, similar: float | None) -> None:
    """``MultimodalStore.find_duplicates`` on ``count`` entries with synthetic vectors and facts."""
    import tempfile

    from siglip_retriever import MultimodalStore
    from siglip_retriever.tiny import build_checkpoint

    hashes, _ = planted_hashes(count, seed=1)
    store = MultimodalStore.in_memory(model=build_checkpoint(tempfile.mkdtemp()))
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(count, store.encoder.dim)).astype(np.float32)
    metadatas = [
        {"kind": "image", "phash": f"{int(code):016x}", "width": 640, "height": 480, "uri": f"/p/{n}.jpg"}
        for n, code in enumerate(hashes)
    ]
    start = time.perf_counter()
    store.upsert_vectors([f"img-{n}" for n in range(count)], vectors, metadatas)
    filled = time.perf_counter() - start
    start = time.perf_counter()
    groups = store.find_duplicates(max_bits=max_bits, similar=similar)
    seconds = time.perf_counter() - start
    print(
        f"store of {count:,} entries (filled in {filled:.0f} s): find_duplicates(similar={similar}) "
        f"{seconds:.2f} s ({1e3 * seconds / count:.2f} ms per entry), "
        f"{len(groups):,} groups; process peak RSS {peak_rss_mib():.0f} MiB",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options and measure each size, smallest first, in this one process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--max-bits", type=int, default=12)
    parser.add_argument("--store", type=int, default=0, help="also time find_duplicates on a store this big")
    parser.add_argument("--similar", type=float, default=None, help="with --store: the cosine threshold")
    options = parser.parse_args(argv)
    versions = f"python {sys.version.split()[0]}, numpy {np.__version__}"
    print(f"{versions}; process peak RSS at start {peak_rss_mib():.0f} MiB")
    for count in sorted(int(size) for size in options.sizes.split(",")):
        measure(count, options.max_bits)
    if options.store:
        measure_store(options.store, options.max_bits, options.similar)


if __name__ == "__main__":
    main()
