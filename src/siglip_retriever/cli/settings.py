"""The global options as one object: the :class:`Settings` that build the encoder and the store.

Example:
    >>> import tempfile
    >>> from siglip_retriever.cli.settings import Settings
    >>> from siglip_retriever.errors import ConfigurationError
    >>> settings = Settings(
    ...     model="demo", db=tempfile.mkdtemp(), host=None, port=8000, collection="siglip",
    ...     device="cpu", dtype="auto", batch_size=32, verbose=False,
    ... )
    >>> try:  # search, similar, info and serve need a store that is already there
    ...     settings.store(must_exist=True)
    ... except ConfigurationError as exc:
    ...     print(str(exc).split("; ")[1].split(":")[0])
    index some images first
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["Settings", "quiet_model_loading", "show_library_logs"]


@dataclass
class Settings:
    """The global options, shared by every command (given before it, after it, or from the environment)."""

    model: str | None
    db: str
    host: str | None
    port: int
    collection: str
    device: str
    dtype: str
    batch_size: int
    verbose: bool

    def encoder(self) -> SiglipEncoder:
        """The encoder of ``--model`` on ``--device`` with ``--dtype`` and ``--batch-size``."""
        from siglip_retriever.encoding.encoder import SiglipEncoder

        quiet_model_loading(self.verbose)
        return SiglipEncoder(self.model, device=self.device, dtype=self.dtype, batch_size=self.batch_size)

    def store(self, *, must_exist: bool) -> MultimodalStore:
        """The store at ``--host`` (a Chroma server) or ``--db``.

        Raises:
            ConfigurationError: ``must_exist`` and there is no embedded store at ``--db``.
        """
        from siglip_retriever.store.store import MultimodalStore

        quiet_model_loading(self.verbose)
        options: dict[str, Any] = {
            "model": self.model,
            "collection": self.collection,
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": self.batch_size,
        }
        if self.host:
            return MultimodalStore.connect(self.host, self.port, **options)
        if must_exist and not (Path(self.db) / "chroma.sqlite3").exists():
            raise ConfigurationError(
                f"no store at {self.db}; index some images first: "
                f"siglip-retriever --db {self.db} index FOLDER"
            )
        return MultimodalStore(self.db, **options)


def quiet_model_loading(verbose: bool) -> None:
    """Hide transformers' load-time progress bars and warnings unless --verbose was given."""
    if verbose:
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def show_library_logs() -> None:
    """The libraries' logs on stderr, down to DEBUG: what --verbose shows besides tracebacks."""
    import logging

    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
