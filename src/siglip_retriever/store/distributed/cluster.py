"""Ray, when it is installed: connect to a cluster, or start a local one for the duration.

Example:
    >>> from siglip_retriever.store.distributed.cluster import require_ray
    >>> require_ray().__name__
    'ray'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from siglip_retriever.errors import ConfigurationError, MissingDependencyError

__all__ = ["ray_cluster", "require_ray"]


def require_ray(purpose: str = "Distributed indexing") -> ModuleType:
    """The ``ray`` module with Ray Data, or a :class:`MissingDependencyError` naming the extra."""
    try:
        import ray
        import ray.data  # Ray Data is a part of the extra
    except ImportError as exc:
        raise MissingDependencyError("ray", "ray", purpose) from exc
    return ray


@contextmanager
def ray_cluster(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Use the Ray cluster at ``address``, or start a local one on 127.0.0.1 and stop it after.

    If Ray is already initialised in this process, that cluster is used and left running.

    Args:
        address: ``"auto"`` (the cluster this machine belongs to), ``"HOST:PORT"`` of a head
            node, or ``"ray://HOST:10001"`` (Ray Client). ``None`` starts a local cluster.
        num_cpus: CPUs of the local cluster (default: every core); ignored with ``address``.

    Raises:
        ConfigurationError: no Ray cluster answers at ``address``.
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # one machine: every Ray process listens on the loopback address only
            ray.init(
                num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False
            )
    except ConnectionError as exc:
        raise ConfigurationError(
            f"no Ray cluster answers at {address!r} ({exc}). Start one with `ray start --head`, or leave "
            "out the address to start a local cluster"
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()
