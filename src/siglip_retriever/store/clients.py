"""chromadb clients: the settings this package opens them with, and what a client says of itself.

Example:
    >>> from siglip_retriever.store.clients import chroma_settings
    >>> chroma_settings().anonymized_telemetry
    False
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from siglip_retriever.store.locking import StoreLease

__all__ = ["chroma_settings", "close", "describe_client", "persist_directory"]


def chroma_settings() -> Any:
    """chromadb settings with anonymised telemetry off."""
    import chromadb

    return chromadb.Settings(anonymized_telemetry=False)


def persist_directory(client: Any) -> Path | None:
    """The directory of an embedded (persistent) chromadb client, ``None`` for other clients."""
    settings = getattr(client, "get_settings", lambda: None)()
    if settings is None or not getattr(settings, "is_persistent", False):
        return None
    if getattr(settings, "chroma_server_host", None):
        return None
    directory = getattr(settings, "persist_directory", None)
    return Path(directory).resolve() if directory else None


def describe_client(client: Any) -> str:
    """Where a client's data lives, for messages: the server's URL, else the client's kind."""
    settings = getattr(client, "get_settings", lambda: None)()
    host = getattr(settings, "chroma_server_host", None)
    if host:
        return f"http://{host}:{getattr(settings, 'chroma_server_http_port', '')}"
    return f"{type(client).__name__}"


def close(client: Any, lease: StoreLease | None) -> None:
    """Close a client a store opened (``None``: one it was given), then end its share of the lock."""
    try:
        if client is not None:
            client.close()
    finally:
        if lease is not None:
            lease.release()
