"""The ``siglip-retriever`` command line: a thin layer over the public API.

Heavy libraries are imported inside the commands, so ``siglip-retriever --help`` stays fast.
Every global option can also come from an environment variable (``SIGLIP_RETRIEVER_MODEL``,
``SIGLIP_RETRIEVER_DB``, ``SIGLIP_RETRIEVER_HOST``, ...; see ``--help``).

Example:
    >>> from click.testing import CliRunner
    >>> from siglip_retriever.cli import main
    >>> CliRunner().invoke(main, ["--version"]).output.startswith("siglip-retriever, version ")
    True
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from siglip_retriever._version import __version__
from siglip_retriever.errors import ConfigurationError, SiglipRetrieverError

if TYPE_CHECKING:
    from siglip_retriever.encoding.encoder import SiglipEncoder
    from siglip_retriever.search.hits import SearchHit
    from siglip_retriever.store.store import MultimodalStore

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
ENV = "SIGLIP_RETRIEVER_"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")  # s3://bucket/photos, file:///data


@dataclass
class Settings:
    """The global options, shared by every command."""

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
        from siglip_retriever.encoding.encoder import SiglipEncoder

        _quiet_model_loading(self.verbose)
        return SiglipEncoder(self.model, device=self.device, dtype=self.dtype, batch_size=self.batch_size)

    def store(self, *, must_exist: bool) -> MultimodalStore:
        from siglip_retriever.store.store import MultimodalStore

        _quiet_model_loading(self.verbose)
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


def _quiet_model_loading(verbose: bool) -> None:
    """Hide transformers' load-time progress bars and warnings unless --verbose was given."""
    if verbose:
        return
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _user_errors(func: F) -> F:
    """Print a package error as one line and exit 1; ``--verbose`` shows the traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SiglipRetrieverError as exc:
            settings = click.get_current_context().find_object(Settings)
            if settings is not None and settings.verbose:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


class _PathOrUri(click.Path):
    """An existing local path, or a URI (``s3://bucket/photos``) passed on as it is."""

    name = "path_or_uri"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and _URI.match(value):
            return value
        return super().convert(value, param, ctx)


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _where(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f'--where must be JSON, such as \'{{"album": "2019"}}\' ({exc})') from None
    if not isinstance(value, dict):
        raise ConfigurationError("--where must be a JSON object")
    return value


def _show(path: str | None) -> str:
    if path is None:
        return "-"
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _hits_table(hits: Sequence[SearchHit]) -> None:
    if not hits:
        click.echo("no match above the threshold")
        return
    click.echo(f"{'rank':>4}  {'prob':>6}  {'cosine':>7}  item")
    for hit in hits:
        prob = f"{hit.probability:6.3f}" if hit.probability is not None else f"{'-':>6}"
        click.echo(f"{hit.rank:>4}  {prob}  {hit.similarity:7.3f}  {_show(hit.uri) if hit.uri else hit.text}")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="siglip-retriever")
@click.option(
    "-m",
    "--model",
    envvar=ENV + "MODEL",
    help="Preset, hub id or checkpoint directory. Default: the store's own model, else 'multilingual'.",
)
@click.option(
    "--db",
    envvar=ENV + "DB",
    default="siglip-store",
    show_default=True,
    help="Directory of the embedded store.",
)
@click.option("--host", envvar=ENV + "HOST", help="Chroma server host (instead of --db).")
@click.option(
    "--port", envvar=ENV + "PORT", type=int, default=8000, show_default=True, help="Chroma server port."
)
@click.option(
    "--collection",
    envvar=ENV + "COLLECTION",
    default="siglip",
    show_default=True,
    help="Collection name inside the store.",
)
@click.option(
    "--device", envvar=ENV + "DEVICE", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps."
)
@click.option(
    "--dtype",
    envvar=ENV + "DTYPE",
    default="auto",
    show_default=True,
    help="auto, float32, float16, bfloat16 or int8 (CPU only: dynamic int8 quantisation, about 1.4x faster).",
)
@click.option(
    "--batch-size",
    envvar=ENV + "BATCH_SIZE",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Images or texts per forward pass.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show full tracebacks and library logs.")
@click.pass_context
def main(ctx: click.Context, **options: Any) -> None:
    """SigLIP image search: index pictures, search them in any language, classify them.

    \b
    Quick start, offline, on the bundled demo model:
      siglip-retriever demo
    With your own pictures:
      siglip-retriever index ~/Pictures
      siglip-retriever search "un chat sur un canapé"
    """
    ctx.obj = Settings(**options)
    if options["verbose"]:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=_PathOrUri(exists=True, path_type=Path))
@click.option("--no-recursive", is_flag=True, help="Do not descend into sub-folders.")
@click.option(
    "--ext", "extensions", help="Comma-separated extensions to index (default: common image types)."
)
@click.option("--remove-missing", is_flag=True, help="Delete entries of files that no longer exist.")
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every outcome, each failure with its reason, to this JSON file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: in this process. ray: on a Ray cluster (pip install 'siglip-retriever[ray]'); "
    "see docs/distributed.md.",
)
@click.option(
    "--ray-address",
    envvar=ENV + "RAY_ADDRESS",
    help="--engine ray: the cluster (auto, HOST:PORT, ray://HOST:10001). Default: start a local one.",
)
@click.option(
    "--num-workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="--engine ray: model actors (one model each; one GPU each when the cluster has GPUs).",
)
@click.option(
    "--cpus-per-worker",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="--engine ray: CPUs each model actor reserves.",
)
@click.option("--num-cpus", type=click.IntRange(min=1), help="--engine ray: CPUs of a local cluster.")
@click.pass_obj
@_user_errors
def index(
    settings: Settings,
    paths: tuple[Path | str, ...],
    no_recursive: bool,
    extensions: str | None,
    remove_missing: bool,
    report_file: Path | None,
    as_json: bool,
    engine: str,
    ray_address: str | None,
    num_workers: int,
    cpus_per_worker: float,
    num_cpus: int | None,
) -> None:
    """Index image folders or files, incrementally: unchanged files are skipped.

    With --engine ray, PATHS may also be URIs of folders or files on any filesystem Ray Data
    reads (s3://bucket/photos, gs://..., hdfs://..., file:///...); see docs/distributed.md.
    """
    from contextlib import ExitStack

    uris = [p for p in paths if isinstance(p, str)]
    if uris and engine != "ray":
        raise click.UsageError(f"{uris[0]} is a URI; URIs need --engine ray (local indexing reads paths)")

    with ExitStack() as stack:
        if engine == "ray":
            from siglip_retriever.store.distributed.cluster import ray_cluster, require_ray

            require_ray("--engine ray")
        store = settings.store(must_exist=False)
        if engine == "ray":  # one cluster for every path
            stack.enter_context(ray_cluster(ray_address, num_cpus=num_cpus))
        reports = []
        for path in paths:
            if engine == "ray":
                from siglip_retriever.store.distributed import index_distributed

                report = index_distributed(
                    store,
                    path if isinstance(path, str) or path.is_dir() else [path],
                    recursive=not no_recursive,
                    extensions=extensions,
                    remove_missing=remove_missing,
                    num_workers=num_workers,
                    cpus_per_worker=cpus_per_worker,
                    dtype=settings.dtype,
                    show_progress=not as_json,
                )
            elif isinstance(path, str):  # pragma: no cover - refused above
                raise click.UsageError(f"{path}: URIs need --engine ray")
            elif path.is_dir():
                report = store.index_folder(
                    path,
                    recursive=not no_recursive,
                    extensions=extensions,
                    remove_missing=remove_missing,
                    show_progress=not as_json,
                )
            else:
                from siglip_retriever.store.indexing import index_files

                report = index_files(store, [path])
            reports.append(report)
            if not as_json:
                click.echo(f"{_show(str(path))}: {report.summary()}")
                for failure in report.failed[:20]:
                    click.echo(f"  failed: {_show(failure.path)}: {failure.reason}", err=True)
                if len(report.failed) > 20:
                    click.echo(f"  ... and {len(report.failed) - 20} more (see --report)", err=True)
    data = [r.to_dict() for r in reports]
    if report_file is not None:
        report_file.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    if as_json:
        _json(data)
    elif not as_json:
        click.echo(f"store {store.location}: {store.count('image')} images, {store.count('text')} texts")


@main.command()
@click.argument("query")
@click.option(
    "-k", "--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Number of hits."
)
@click.option("--min-prob", type=click.FloatRange(0, 1), help="Only hits with at least this probability.")
@click.option("--where", help='Metadata filter as JSON, e.g. \'{"album": "2019"}\'.')
@click.option("--texts", is_flag=True, help="Search stored texts instead of images.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema in the README).")
@click.pass_obj
@_user_errors
def search(
    settings: Settings,
    query: str,
    k: int,
    min_prob: float | None,
    where: str | None,
    texts: bool,
    as_json: bool,
) -> None:
    """Find images matching QUERY, in any language the model knows."""
    from siglip_retriever.search.retriever import Retriever

    if not query.strip():
        raise ConfigurationError("the query is empty; type what the picture should show")
    store = settings.store(must_exist=True)
    retriever = Retriever(store, k=k)
    filters = _where(where)
    if texts:
        hits = retriever.text_to_texts(query, k=k, where=filters)
    else:
        hits = retriever.text_to_images(query, k=k, where=filters, min_probability=min_prob)
    if as_json:
        _json(
            {
                "query": query,
                "model": store.model_name,
                "score_kind": store.score_kind,
                "hits": [h.to_dict() for h in hits],
            }
        )
    else:
        _hits_table(hits)


@main.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-k", "--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="Number of hits."
)
@click.option(
    "--min-sim", type=click.FloatRange(-1, 1), help="Only hits with at least this cosine similarity."
)
@click.option("--where", help="Metadata filter as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same schema as search).")
@click.pass_obj
@_user_errors
def similar(
    settings: Settings, image: Path, k: int, min_sim: float | None, where: str | None, as_json: bool
) -> None:
    """Find images similar to IMAGE (the image itself is left out)."""
    from siglip_retriever.search.retriever import Retriever

    store = settings.store(must_exist=True)
    hits = Retriever(store, k=k).image_to_images(image, where=_where(where), min_similarity=min_sim)
    if as_json:
        _json(
            {
                "query": str(image),
                "model": store.model_name,
                "score_kind": "cosine",
                "hits": [h.to_dict() for h in hits],
            }
        )
    else:
        _hits_table(hits)


@main.command()
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("-l", "--labels", required=True, help="Comma-separated labels, in any language.")
@click.option(
    "-t",
    "--template",
    "templates",
    multiple=True,
    help="Prompt with {} for the label; repeatable. Default: 'a photo of {}.'",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Labels at or above this probability are listed as matches.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema in the README).")
@click.pass_obj
@_user_errors
def classify(
    settings: Settings,
    images: tuple[Path, ...],
    labels: str,
    templates: tuple[str, ...],
    threshold: float,
    as_json: bool,
) -> None:
    """Zero-shot: the probability of each label for each IMAGE (independent, multi-label)."""
    from siglip_retriever.search.zero_shot import DEFAULT_TEMPLATES, ZeroShotClassifier

    names = [label.strip() for label in labels.split(",") if label.strip()]
    classifier = ZeroShotClassifier(
        names, templates=templates or DEFAULT_TEMPLATES, encoder=settings.encoder()
    )
    results = classifier.classify(list(images))
    if as_json:
        _json(
            {
                "model": classifier.encoder.preset.name,
                "score_kind": classifier.score_kind,
                "templates": classifier.templates,
                "results": [r.to_dict() for r in results],
            }
        )
        return
    for result in results:
        matches = result.above(threshold)
        click.echo(
            f"{_show(result.source)}: {', '.join(matches) if matches else '(no label above threshold)'}"
        )
        for label, probability in result.ranked():
            click.echo(f"  {probability:6.3f}  {label}")
    if classifier.score_kind == "softmax":
        click.echo("(softmax model: probabilities are relative to these labels and sum to 1)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@_user_errors
def info(settings: Settings, as_json: bool) -> None:
    """Show the store's model, location and counts."""
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
        "texts": store.count("text"),
        "device": store.encoder.device,
    }
    if as_json:
        _json(data)
        return
    for key, value in data.items():
        click.echo(f"{key:>12}: {value}")


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the pictures and the store (default: a new temporary folder).",
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Pictures per shape and colour (24 classes).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_obj
@_user_errors
def demo(settings: Settings, out: Path | None, per_class: int, as_json: bool) -> None:
    """Offline walkthrough on the bundled demo model: index, search in 7 languages, classify."""
    import tempfile

    from siglip_retriever.demo.walkthrough import run_demo

    _quiet_model_loading(settings.verbose)
    folder = out or Path(tempfile.mkdtemp(prefix="siglip-demo-"))
    echo = (lambda line: None) if as_json else click.echo
    result = run_demo(folder, per_class=per_class, echo=echo, device=settings.device)
    if as_json:
        _json(result)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def presets(as_json: bool) -> None:
    """List the named checkpoints that --model accepts."""
    from siglip_retriever.encoding.presets import PRESETS

    if as_json:
        _json(
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


@main.command()
@click.argument("texts", nargs=-1, required=True)
@click.pass_obj
@_user_errors
def embed(settings: Settings, texts: tuple[str, ...]) -> None:
    """Print the embeddings of TEXTS as JSON lines (text, vector)."""
    encoder = settings.encoder()
    for text, vector in zip(texts, encoder.encode_texts(list(texts)), strict=True):
        line = {"text": text, "vector": [round(float(x), 6) for x in vector]}
        click.echo(json.dumps(line, ensure_ascii=False))


@main.command()
@click.option(
    "--bind",
    "--host-address",
    "bind",
    envvar=ENV + "BIND",
    default="127.0.0.1",
    show_default=True,
    help="Address the web app listens on. 0.0.0.0 exposes your pictures to the network.",
)
@click.option(
    "--listen-port",
    envvar=ENV + "LISTEN_PORT",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port the web app listens on (0: a free one). The global --port is the Chroma server's.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser once it is up.")
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Largest upload (request body) in MiB.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Largest uploaded image in pixels.",
)
@click.option(
    "--max-k", type=click.IntRange(min=1), default=100, show_default=True, help="Most hits per search."
)
@click.pass_obj
@_user_errors
def serve(
    settings: Settings,
    bind: str,
    listen_port: int,
    open_browser: bool,
    max_upload_mb: float,
    max_pixels: int,
    max_k: int,
) -> None:
    """Start the web app: a search page and a REST API (docs at /docs) over the store."""
    from siglip_retriever.app.limits import Limits
    from siglip_retriever.app.server import serve as run_server

    limits = Limits(
        max_upload_bytes=max(1, int(max_upload_mb * 1024 * 1024)), max_pixels=max_pixels, max_k=max_k
    )
    store = settings.store(must_exist=True)
    images = store.count("image")

    def started(url: str) -> None:
        click.echo(f"Serving {images} pictures of {store.location} at {url} (Ctrl+C to stop)")

    run_server(
        store,
        host=bind,
        port=listen_port,
        limits=limits,
        open_browser=open_browser,
        log_level="info" if settings.verbose else "warning",
        on_started=started,
    )


@main.command()
@click.option(
    "--models",
    required=True,
    help="Comma-separated presets, hub ids, checkpoint directories or open_clip:NAME; "
    "LABEL=MODEL sets the name shown in the report.",
)
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Image-caption pairs, CSV or JSONL (image, caption, language): Recall@k both ways.",
)
@click.option(
    "--classes",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of class sub-folders (labels.json for translated names): zero-shot accuracy.",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="labels.json for --classes (default: the one inside the folder, if any).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("comparison"),
    show_default=True,
    help="Folder for the report files.",
)
@click.option(
    "--format",
    "formats",
    default="table,md,json,csv,png",
    show_default=True,
    help="Comma-separated: table (printed), md, json, csv, png (needs the compare extra).",
)
@click.option(
    "-t",
    "--template",
    "templates",
    multiple=True,
    help="Zero-shot prompt with {} for the label; repeatable. Default: the label as written.",
)
@click.option("--k", "ks", default="1,5,10", show_default=True, help="Comma-separated k of Recall@k.")
@click.option(
    "--in-process",
    is_flag=True,
    help="Run every model in this process: starts faster, but peak memory is sampled, not exact.",
)
@click.pass_obj
@_user_errors
def compare(
    settings: Settings,
    models: str,
    pairs: Path | None,
    classes: Path | None,
    labels: Path | None,
    out: Path,
    formats: str,
    templates: tuple[str, ...],
    ks: str,
    in_process: bool,
) -> None:
    """Compare models on one dataset: quality, speed, peak memory and load time.

    \b
    Recall@k (text->image, image->text) per language on --pairs, zero-shot
    accuracy per label language on --classes; with neither, both on the demo's
    synthetic shapes, offline:
      siglip-retriever compare --models demo,clip-dir=/path/to/clip
      siglip-retriever compare --models multilingual,clip --pairs pairs.csv
    """
    from siglip_retriever.compare import DEFAULT_TEMPLATES, compare_models, load_classes
    from siglip_retriever.compare.report import check_formats

    wanted = check_formats(formats)
    try:
        k_values = [int(k) for k in ks.split(",") if k.strip()]
    except ValueError:
        raise ConfigurationError(
            f"--k takes comma-separated whole numbers, such as 1,5,10, not {ks!r}"
        ) from None
    if labels is not None and classes is None:
        raise ConfigurationError("--labels names the labels of --classes; give --classes too")
    class_data: Any = None if classes is None else load_classes(classes, labels=labels)
    if pairs is None and classes is None:
        from siglip_retriever.compare.sample import write_demo_dataset

        pairs, folder = write_demo_dataset(out / "data")
        class_data = load_classes(folder)
        click.echo(
            f"No --pairs or --classes: the demo's synthetic shapes, written to {_show(str(out / 'data'))}",
            err=True,
        )
    result = compare_models(
        models,
        pairs=pairs,
        classes=class_data,
        templates=templates or DEFAULT_TEMPLATES,
        ks=k_values,
        device=settings.device,
        dtype=settings.dtype,
        batch_size=settings.batch_size,
        isolate=not in_process,
        quiet=not settings.verbose,
        progress=lambda line: click.echo(line, err=True),
    )
    if "table" in wanted:
        click.echo(result.table(), nl=False)
    files = [name for name in wanted if name != "table"]
    if files:
        written = result.write(out, files)
        click.echo("wrote " + ", ".join(_show(str(path)) for path in written.values()))


if __name__ == "__main__":  # pragma: no cover
    main()
