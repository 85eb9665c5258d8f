"""The commands that describe: ``info`` (the store), ``presets`` (the models) and ``embed`` (texts).

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli.info import presets_command
    >>> "demo" in CliRunner().invoke(presets_command, []).output
    True
"""

from __future__ import annotations

import dataclasses
import json

import click

from siglip_retriever.cli.options import SettingsCommand, json_option, with_settings
from siglip_retriever.cli.output import print_json
from siglip_retriever.cli.settings import Settings

__all__ = ["embed_command", "info_command", "presets_command"]


@click.command("info", cls=SettingsCommand)
@json_option("Print JSON.")
@with_settings
def info_command(settings: Settings, as_json: bool) -> None:
    """Show the store's model, location and counts (images count PDF pages and video moments)."""
    store = settings.store(must_exist=True)
    data = {
        "location": store.location,
        "collection": store.collection_name,
        "model": store.model_name,
        "dim": store.encoder.dim,
        "score_kind": store.score_kind,
        "logit_scale": store.logit_scale,
        "logit_bias": store.logit_bias,
        "images": store.count("image"),
        "video_moments": store.count(where={"kind": "video"}),
        "texts": store.count("text"),
        "device": store.encoder.device,
        "collections": [dataclasses.asdict(info) for info in store.collections()],
    }
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if key != "collections":
            click.echo(f"{key:>13}: {value}")
    for info in store.collections():  # live, and after a reindex the previous one (or one being built)
        click.echo(f"{info.role:>13}: {info.name} ({info.model}, {info.count} entries)")


@click.command("presets")
@json_option("Print JSON instead of a table.")
def presets_command(as_json: bool) -> None:
    """List the named checkpoints that --model accepts."""
    from siglip_retriever.encoding.presets import PRESETS

    if as_json:
        print_json(
            [
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
        )
        return
    width = max(len(name) for name in PRESETS)
    for preset in PRESETS.values():
        click.echo(f"{preset.name:<{width}}  {preset.score_kind:<7}  {preset.description}")


@click.command("embed", cls=SettingsCommand)
@click.argument("texts", nargs=-1, required=True)
@with_settings
def embed_command(settings: Settings, texts: tuple[str, ...]) -> None:
    """Print the embeddings of TEXTS as JSON lines (text, vector)."""
    encoder = settings.encoder()
    for text, vector in zip(texts, encoder.encode_texts(list(texts)), strict=True):
        line = {"text": text, "vector": [round(float(x), 6) for x in vector]}
        click.echo(json.dumps(line, ensure_ascii=False))
