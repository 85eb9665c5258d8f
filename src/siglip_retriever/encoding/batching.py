"""Inputs cut into batches, and the batches' vectors joined again, for every encoder backend.

Example:
    >>> import numpy as np
    >>> from siglip_retriever.encoding.batching import batches, joined
    >>> batches(["a", "b", "c"], 2)
    [['a', 'b'], ['c']]
    >>> joined([np.ones((2, 4)), np.ones((1, 4))], dim=4).shape, joined([], dim=4).shape
    ((3, 4), (0, 4))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["batches", "joined"]

_T = TypeVar("_T")


def batches(items: Sequence[_T], size: int) -> list[list[_T]]:
    """``items`` in consecutive batches of ``size`` (the last one shorter)."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def joined(parts: Iterable[npt.NDArray[np.float32]], *, dim: int) -> npt.NDArray[np.float32]:
    """The batches' vectors as one ``(N, dim)`` float32 array; ``(0, dim)`` when there is none."""
    arrays = list(parts)
    if not arrays:
        return np.zeros((0, dim), dtype=np.float32)
    return np.concatenate(arrays).astype(np.float32, copy=False)
