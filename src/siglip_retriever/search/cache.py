"""The result cache of a :class:`~siglip_retriever.search.retriever.Retriever`.

The same query (same vector, kind, ``k``, filter and thresholds) on a store that nothing has
written to since is answered from memory, without asking chromadb. Only stores that no other
process can write to while they are open cache (an embedded store holds its directory's lock; see
``MultimodalStore.sole_writer``); a write through the store (``MultimodalStore.generation``)
empties the cache.

Example:
    >>> from types import SimpleNamespace
    >>> from siglip_retriever.search.cache import ResultCache
    >>> store = SimpleNamespace(sole_writer=True, generation=0)
    >>> cache = ResultCache(store, size=8)
    >>> cache.put(("query",), 0, ["hit"])
    >>> cache.get(("query",))
    ['hit']
    >>> store.generation = 1  # the store was written to
    >>> cache.get(("query",)) is None
    True
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any, Generic, TypeVar

from siglip_retriever.errors import ConfigurationError

__all__ = ["ResultCache", "frozen_filter"]

_V = TypeVar("_V")


class ResultCache(Generic[_V]):
    """The results of the ``size`` most recent searches of one store, dropped when it is written.

    Args:
        store: the store searched; read for ``sole_writer`` and ``generation``.
        size: how many results to keep (0: none).

    Raises:
        ConfigurationError: ``size`` is not an integer >= 0.
    """

    def __init__(self, store: Any, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ConfigurationError(f"cache_size must be an integer >= 0, not {size!r}")
        self.store = store
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[int, list[_V]]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether results of this store are kept at all."""
        return bool(self.size) and bool(getattr(self.store, "sole_writer", False))

    @property
    def generation(self) -> int:
        """The store's count of writes now."""
        return int(getattr(self.store, "generation", 0))

    def get(self, key: Hashable) -> list[_V] | None:
        """A copy of the results kept for ``key``, or ``None``."""
        if not self.active:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] != self.generation:  # the store was written to since
                self._entries.clear()
                return None
            self._entries.move_to_end(key)
            return list(entry[1])

    def put(self, key: Hashable, generation: int, results: list[_V]) -> None:
        """Keep ``results`` of a search that began at store ``generation`` (if none wrote since)."""
        if not self.active or self.generation != generation:
            return
        with self._lock:
            self._entries[key] = (generation, list(results))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every result."""
        with self._lock:
            self._entries.clear()


def frozen_filter(where: Mapping[str, Any] | None) -> str:
    """A hashable form of a metadata filter."""
    return json.dumps(where, sort_keys=True, default=repr) if where else ""
