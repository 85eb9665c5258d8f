"""Pairs of 64-bit hashes a few bits apart, found without comparing all against all; groups by union-find.

The perceptual hashes of copies of one picture differ in a few of their 64 bits
(:mod:`siglip_retriever.store.fingerprints`). :func:`near_pairs` finds every pair at most
``max_bits`` apart by multi-index hashing: the hash is cut into 4 blocks of 16 bits, and by the
pigeonhole principle two hashes at most ``max_bits = 4 * s + a`` apart have one of the first
``a + 1`` blocks within ``s`` bits, or one of the others within ``s - 1`` (:func:`block_radii`;
for 12 bits: the first block within 3 bits, or another within 2). So each hash is looked up under
its blocks' few neighbouring values (1,108 for 12 bits) in tables of 65,536 buckets, and only the
hashes found there are compared in full. Cutting the hash into ``max_bits + 1`` blocks and
matching one exactly is the same argument, but 13 blocks of 5 bits put 100,000 hashes into
32 buckets each: billions of candidates, where 16-bit blocks give tens of millions.

:func:`join_pairs` joins pairs into groups (union-find); :func:`group_hashes` does both.
The work grows with the count times the neighbouring values looked up, plus the candidates
(about ``count**2 / 65,536`` of them per value), and the memory of a step is bounded: see
``benchmarks/duplicates.py`` for the times and memory on 10,000 to 100,000 hashes.

Example:
    >>> from siglip_retriever.store.hash_index import group_hashes
    >>> group_hashes(["ffff0000ffff0000", "ffff0000ffff0003", "0123456789abcdef"], max_bits=4)
    [[0, 1]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError

__all__ = [
    "BLOCK_BITS",
    "MAX_BITS",
    "bit_counts",
    "block_radii",
    "check_bits",
    "group_hashes",
    "hash_values",
    "join_pairs",
    "near_pairs",
]

BLOCK_BITS = 16
"""The width of one block of the multi-index: 4 blocks of a 64-bit hash, tables of 65,536 buckets."""
MAX_BITS = 20
"""The largest ``max_bits`` accepted: well past the bits copies differ by, and as close as distinct
photo-like pictures come, so that a larger threshold would group different pictures."""
_BLOCKS = 64 // BLOCK_BITS
_STEP = 65_536  # lookups per step at least (several flips at once for a few entries); bounds memory
_BYTE_BITS = np.array([bin(n).count("1") for n in range(256)], dtype=np.uint8)


def bit_counts(values: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """The number of set bits of each ``uint64`` (``numpy.bitwise_count`` on numpy 2, a table of
    the 256 bytes' counts on numpy 1.26, which has no such function).

    Example:
        >>> import numpy as np
        >>> from siglip_retriever.store.hash_index import bit_counts
        >>> bit_counts(np.array([0, 1, 0xFF, 2**64 - 1], dtype=np.uint64)).tolist()
        [0, 1, 8, 64]
    """
    values = np.asarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.asarray(np.bitwise_count(values), dtype=np.uint8)
    octets = np.ascontiguousarray(values).view(np.uint8).reshape(*values.shape, 8)
    return np.asarray(_BYTE_BITS[octets].sum(axis=-1), dtype=np.uint8)


def hash_values(hashes: Iterable[str | int]) -> npt.NDArray[np.uint64]:
    """64-bit hashes (16 hex digits, or ints) as an array of ``uint64``.

    Raises:
        ConfigurationError: a hash is neither.

    Example:
        >>> from siglip_retriever.store.hash_index import hash_values
        >>> hash_values(["00000000000000ff", 1]).tolist()
        [255, 1]
    """
    values = []
    for value in hashes:
        try:
            number = value if isinstance(value, int) else int(value, 16)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{value!r} is not a 64-bit hash in hex digits") from None
        if not 0 <= number < 1 << 64:
            raise ConfigurationError(f"{value!r} is not a 64-bit hash")
        values.append(number)
    return np.array(values, dtype=np.uint64)


def block_radii(max_bits: int) -> list[int]:
    """How far each 16-bit block is searched so that no pair within ``max_bits`` is missed.

    With ``max_bits = 4 * s + a`` (``0 <= a < 4``): the first ``a + 1`` blocks within ``s`` bits,
    the others within ``s - 1`` (``-1``: not searched). A pair differing in more than that in every
    block would differ in at least ``(a + 1) * (s + 1) + (3 - a) * s = max_bits + 1`` bits.

    Example:
        >>> from siglip_retriever.store.hash_index import block_radii
        >>> block_radii(12), block_radii(10), block_radii(0)
        ([3, 2, 2, 2], [2, 2, 2, 1], [0, -1, -1, -1])
    """
    s, a = divmod(max_bits, _BLOCKS)
    return [s if block <= a else s - 1 for block in range(_BLOCKS)]


def check_bits(max_bits: int) -> None:
    """Refuse a ``max_bits`` outside 0 to :data:`MAX_BITS` (``ConfigurationError``).

    Example:
        >>> from siglip_retriever.store.hash_index import check_bits
        >>> check_bits(12)
    """
    if isinstance(max_bits, bool) or not isinstance(max_bits, int) or not 0 <= max_bits <= MAX_BITS:
        raise ConfigurationError(
            f"max_bits must be a whole number from 0 to {MAX_BITS}, not {max_bits!r}; "
            "12 (the default) groups resized, recompressed, rotated and lightly cropped copies"
        )


def near_pairs(hashes: npt.ArrayLike, max_bits: int) -> npt.NDArray[np.int64]:
    """Every pair of hashes at most ``max_bits`` bits apart, as rows ``(i, j)`` with ``i < j``.

    Found by multi-index hashing (see the module's docstring), never all against all: the work
    grows with the count times the few neighbouring block values, and the memory of a step is
    bounded, whatever the count.

    Example:
        >>> from siglip_retriever.store.hash_index import hash_values, near_pairs
        >>> near_pairs(hash_values(["ff00", "ff01", "ff03", "1234567800000000"]), 1).tolist()
        [[0, 1], [1, 2]]
    """
    check_bits(max_bits)
    values = np.asarray(hashes, dtype=np.uint64)
    found: list[npt.NDArray[np.int64]] = []
    for block, radius in enumerate(block_radii(max_bits)):
        if radius >= 0 and len(values) > 1:
            found.extend(_block_pairs(values, block, radius, max_bits))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)  # a pair close in several blocks is found in each


def _block_pairs(
    values: npt.NDArray[np.uint64], block: int, radius: int, max_bits: int
) -> Iterable[npt.NDArray[np.int64]]:
    """The close pairs whose ``block``-th 16-bit blocks are within ``radius`` bits.

    Entries are sorted into buckets by the block's value (so lookups read memory nearly in
    order). Two buckets whose values differ by ``flip`` are compared once, from the bucket whose
    value lacks ``flip``'s highest bit; the pairs within one bucket (``flip == 0``) once each.
    """
    keys = ((values >> np.uint64(BLOCK_BITS * block)) & np.uint64(0xFFFF)).astype(np.int32)
    order = np.argsort(keys, kind="stable")
    table = _Buckets(values[order], keys[order])
    yield from table.within(order, max_bits)
    flips = np.arange(1, 1 << BLOCK_BITS, dtype=np.int32)
    flips = flips[bit_counts(flips) <= radius]
    for high in range(BLOCK_BITS):
        group = flips[(flips >> high) == 1]  # the flips whose highest bit is ``high``
        sources = np.flatnonzero((table.keys >> high) & 1 == 0).astype(np.int32)
        if not len(group) or not len(sources):
            continue
        step = max(1, _STEP // len(sources))  # several flips at once when there are few entries
        for first in range(0, len(group), step):
            flip = group[first : first + step]
            found = table.between(np.tile(sources, len(flip)), np.repeat(flip, len(sources)), max_bits)
            if len(found):
                yield order[found]


@dataclass
class _Buckets:
    """Hashes sorted by the value of one block: bucket ``k`` is ``values[starts[k]:ends[k]]``."""

    values: npt.NDArray[np.uint64]
    keys: npt.NDArray[np.int32]
    starts: npt.NDArray[np.int32] = field(init=False)
    ends: npt.NDArray[np.int32] = field(init=False)

    def __post_init__(self) -> None:
        sizes = np.bincount(self.keys, minlength=1 << BLOCK_BITS).astype(np.int32)
        self.ends = np.cumsum(sizes, dtype=np.int32)
        self.starts = self.ends - sizes

    def within(self, order: npt.NDArray[np.intp], max_bits: int) -> Iterable[npt.NDArray[np.int64]]:
        """The close pairs of entries in the same bucket, as rows of original indexes."""
        count = len(self.keys)
        first = np.arange(count, dtype=np.int32)
        second = first + 1
        ends = self.ends[self.keys]
        while True:  # the 1st entry after each, the 2nd, ...: until no bucket has more
            more = second < ends
            if not more.any():
                return
            first, second, ends = first[more], second[more], ends[more]
            close = bit_counts(self.values[first] ^ self.values[second]) <= max_bits
            if close.any():
                yield np.stack([order[first[close]], order[second[close]]], axis=1)
            second = second + 1

    def between(
        self, sources: npt.NDArray[np.int32], flips: npt.NDArray[np.int32], max_bits: int
    ) -> npt.NDArray[np.int32]:
        """Pairs ``(source, other)`` (sorted positions) of each source and the entries of the
        bucket its key ``^ flip`` names, at most ``max_bits`` apart."""
        neighbours = self.keys[sources] ^ flips
        position, ends = self.starts[neighbours], self.ends[neighbours]
        mine = self.values[sources]
        last = len(self.values) - 1
        found = []
        while True:  # the 1st entry of each neighbouring bucket, the 2nd, ...
            valid = position < ends
            left = int(np.count_nonzero(valid))
            if left == 0:
                break
            if left < len(position) // 2:  # most buckets are done: keep only the others
                position, ends, mine, sources = position[valid], ends[valid], mine[valid], sources[valid]
                valid = np.ones(left, dtype=bool)
            close = bit_counts(mine ^ self.values[np.minimum(position, last)]) <= max_bits
            close &= valid
            if close.any():
                found.append(np.stack([sources[close], position[close]], axis=1))
            position = position + 1
        return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int32)


def join_pairs(count: int, pairs: Iterable[tuple[int, int]] | npt.NDArray[np.int64]) -> list[list[int]]:
    """The groups of ``range(count)`` that ``pairs`` join (union-find), those of two or more,
    each sorted, in the order of their first member.

    Example:
        >>> from siglip_retriever.store.hash_index import join_pairs
        >>> join_pairs(6, [(4, 5), (0, 2), (2, 4)])
        [[0, 2, 4, 5]]
    """
    parent = list(range(count))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    for first, second in np.asarray(pairs, dtype=np.int64).reshape(-1, 2).tolist():
        a, b = root(first), root(second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for node in range(count):
        members.setdefault(root(node), []).append(node)
    return [group for group in members.values() if len(group) > 1]


def group_hashes(hashes: Sequence[str | int] | npt.NDArray[np.uint64], max_bits: int) -> list[list[int]]:
    """The groups of hashes (as indexes) joined by pairs at most ``max_bits`` bits apart.

    The core of :func:`find_duplicates`, on plain hashes (16 hex digits, ints or ``uint64``).

    Example:
        >>> from siglip_retriever.store.hash_index import group_hashes
        >>> group_hashes(["0000000000000000", "0000000000000fff", "00000000000000ff"], max_bits=8)
        [[0, 1, 2]]
    """
    values = hashes if isinstance(hashes, np.ndarray) else hash_values(hashes)
    return join_pairs(len(values), near_pairs(values, max_bits))
