"""The ``siglip-retriever`` command line: a thin layer over the public API.

Heavy libraries are imported inside the commands, so ``siglip-retriever --help`` stays fast.

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli import main
    >>> CliRunner().invoke(main, ["--version"]).output.startswith("siglip-retriever ")
    True
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from siglip_retriever._version import __version__
from siglip_retriever.errors import SiglipRetrieverError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(func: F) -> F:
    """Print a package error as one line and exit 1; ``--verbose`` shows the traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SiglipRetrieverError as exc:
            ctx = click.get_current_context()
            if ctx.find_root().params.get("verbose"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _quiet_model_loading() -> None:
    """Hide transformers' load-time progress bars and warnings unless --verbose was given."""
    if click.get_current_context().find_root().params.get("verbose"):
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="siglip-retriever")
@click.option("-v", "--verbose", is_flag=True, help="Show full tracebacks and debug logs.")
def main(verbose: bool) -> None:
    """SigLIP image search: embeddings for LangChain, LlamaIndex and Chroma."""
    if verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_user_errors
def presets(as_json: bool) -> None:
    """List the named checkpoints that --model accepts."""
    from siglip_retriever.presets import PRESETS

    if as_json:
        rows = [
            {
                "name": p.name,
                "model_id": p.model_id,
                "family": p.family,
                "score_kind": p.score_kind,
                "multilingual": p.multilingual,
                "description": p.description,
            }
            for p in PRESETS.values()
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    width = max(len(name) for name in PRESETS)
    for preset in PRESETS.values():
        click.echo(f"{preset.name:<{width}}  {preset.score_kind:<7}  {preset.description}")


@main.command()
@click.option("--model", "-m", default=None, help="Preset name, hub id or checkpoint directory.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
@click.option("--dtype", default="auto", show_default=True, help="auto, float32, float16 or bfloat16.")
@click.argument("texts", nargs=-1, required=True)
@_user_errors
def embed(model: str | None, device: str, dtype: str, texts: tuple[str, ...]) -> None:
    """Print the embeddings of TEXTS as JSON lines (text, vector)."""
    from siglip_retriever.encoder import SiglipEncoder

    _quiet_model_loading()
    encoder = SiglipEncoder(model, device=device, dtype=dtype)
    for text, vector in zip(texts, encoder.encode_texts(list(texts)), strict=True):
        click.echo(
            json.dumps({"text": text, "vector": [round(float(x), 6) for x in vector]}, ensure_ascii=False)
        )


if __name__ == "__main__":  # pragma: no cover
    main()
