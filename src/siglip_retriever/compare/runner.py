"""Run several models on one dataset and measure them: quality, speed, memory, load time.

Each model is loaded and run on its own, one after the other (never two at once, so that their
speeds are measured on the same idle machine), by default in a fresh child process:

- **load time**: wall-clock seconds to build the encoder from its files. Importing torch,
  transformers' auto classes and (for ``open_clip:`` models) open_clip comes first and is not
  counted: a one-time cost of a few seconds and about 100 MiB, the same for every model;
- **speed**: images per second (reading and decoding the files included, as indexing a folder
  would) and texts per second, after one warm-up image and text;
- **peak memory**: how far the process's peak resident memory (RSS) rose above what it used
  before the model was loaded, that is the model's weights plus the working memory of
  encoding. In a child process (``isolate=True``) the peak is the kernel's own high-water mark
  (``getrusage`` ``ru_maxrss``), exact; in-process (``isolate=False``) it is sampled every
  5 ms from ``/proc/self/statm`` (Linux), so a very short spike can be missed. On a GPU the
  peak of ``torch.cuda.max_memory_allocated`` is reported as well.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever.compare import compare_models
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> folder = Path(tempfile.mkdtemp())
    >>> for colour in ("red", "blue"):
    ...     Image.new("RGB", (32, 32), colour).save(folder / f"{colour}.png")
    >>> _ = (folder / "pairs.csv").write_text("image,caption\\nred.png,red\\nblue.png,blue\\n")
    >>> result = compare_models(
    ...     [f"tiny={build_checkpoint(folder / 'model')}"], pairs=folder / "pairs.csv",
    ...     device="cpu", isolate=False,
    ... )
    >>> result.models[0].name, sorted(result.models[0].retrieval["overall"]["text_to_image"])
    ('tiny', ['R@1', 'R@10', 'R@5'])
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.compare.datasets import ClassesDataset, PairsDataset, load_classes, load_pairs
from siglip_retriever.compare.metrics import DEFAULT_KS, retrieval_scores, zero_shot_scores
from siglip_retriever.compare.report import ComparisonResult, ModelResult
from siglip_retriever.errors import ConfigurationError, ModelLoadError

__all__ = ["DEFAULT_TEMPLATES", "ModelSpec", "compare_models", "parse_model_specs"]

DEFAULT_TEMPLATES: tuple[str, ...] = ("{}",)
"""Zero-shot prompts: the label names as written (write full prompts in ``labels.json``)."""

Vectors = npt.NDArray[np.float32]

_LABEL = re.compile(r"[\w.-]+")
_SAMPLE_SECONDS = 0.005


@dataclass(frozen=True)
class ModelSpec:
    """One model of a comparison: the column label and what to load.

    Attributes:
        label: the name shown in tables and charts.
        model: a preset, hub id, checkpoint directory or ``open_clip:`` name.
    """

    label: str
    model: str


def parse_model_specs(models: str | Sequence[str]) -> list[ModelSpec]:
    """Read model names: a comma-separated string or a list, each ``MODEL`` or ``LABEL=MODEL``.

    Without a label, a preset or hub id is its own label and a directory its folder name.

    Raises:
        ConfigurationError: no model, an empty name, or two models with the same label.

    Example:
        >>> [(s.label, s.model) for s in parse_model_specs("demo, mine=/tmp/ckpt")]
        [('demo', 'demo'), ('mine', '/tmp/ckpt')]
    """
    items = models.split(",") if isinstance(models, str) else list(models)
    specs = []
    for raw in items:
        text = str(raw).strip()
        if not text:
            if isinstance(models, str) and len(items) > 1:
                continue  # "a,b," and "a,,b" are typing slips, not models
            raise ConfigurationError("a model name is empty")
        label, sep, model = text.partition("=")
        if sep and _LABEL.fullmatch(label.strip()) and model.strip() and not Path(text).exists():
            specs.append(ModelSpec(label.strip(), model.strip()))
            continue
        specs.append(ModelSpec(_default_label(text), text))
    if not specs:
        raise ConfigurationError("give at least one model to compare")
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.label in seen:
            raise ConfigurationError(
                f"two models are labelled {spec.label!r} ({seen[spec.label]} and {spec.model}); "
                "name them with LABEL=MODEL, such as a=/models/x,b=/other/x"
            )
        seen[spec.label] = spec.model
    return specs


def _default_label(model: str) -> str:
    from siglip_retriever.encoding.backends import is_open_clip
    from siglip_retriever.encoding.presets import PRESETS

    if model in PRESETS or is_open_clip(model):
        return model
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve().name or model
    return model


@dataclass(frozen=True)
class _Job:
    """What one model must encode; picklable, so it can go to a child process."""

    model: str
    device: str
    dtype: str
    batch_size: int
    images: list[str]
    text_groups: list[tuple[str, list[str]]]
    quiet: bool = True


@dataclass
class _Encoded:
    """What one model produced and how it fared."""

    model_id: str
    family: str
    score_kind: str
    dim: int
    device: str
    logit_scale: float
    logit_bias: float
    load_seconds: float
    image_seconds: float
    text_seconds: float
    peak_rss_bytes: int | None
    peak_gpu_bytes: int | None
    threads: int
    image_vectors: Vectors
    text_vectors: list[Vectors] = field(default_factory=list)


def compare_models(
    models: str | Sequence[str],
    *,
    pairs: str | os.PathLike[str] | PairsDataset | None = None,
    classes: str | os.PathLike[str] | ClassesDataset | None = None,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
    ks: Sequence[int] = DEFAULT_KS,
    device: str = "auto",
    dtype: str = "auto",
    batch_size: int = 32,
    isolate: bool = True,
    quiet: bool = True,
    progress: Callable[[str], Any] | None = None,
) -> ComparisonResult:
    """Compare models on image-caption pairs (Recall@k) and/or class folders (zero-shot accuracy).

    Args:
        models: model names (see :func:`parse_model_specs`): presets, hub ids, checkpoint
            directories, ``open_clip:`` names, each optionally ``LABEL=MODEL``.
        pairs: a pairs file (CSV or JSONL) or a loaded :class:`PairsDataset`.
        classes: a folder of class sub-folders or a loaded :class:`ClassesDataset`.
        templates: zero-shot prompts, each with one ``{}`` for the label name.
        ks: the k of Recall@k.
        device, dtype, batch_size: as for :class:`~siglip_retriever.encoding.encoder.SiglipEncoder`.
        isolate: run each model in its own child process: exact peak memory and a cold load
            for every model. ``False`` runs them in this process (quicker to start; memory
            is sampled; the encoder cache is emptied before each model so that loads are real).
        quiet: hide transformers' load-time warnings and progress bars.
        progress: called with one line of text as each model starts and ends.

    Returns:
        A :class:`ComparisonResult`; its ``write`` method writes the reports.

    Raises:
        ConfigurationError: no dataset, a bad option, or malformed data.
        ModelLoadError: a model cannot be loaded (or its process died).
        MissingDependencyError: an open_clip model without open_clip installed.
    """
    specs = parse_model_specs(models)
    if pairs is None and classes is None:
        raise ConfigurationError(
            "give image-caption pairs (a CSV or JSONL file) or a folder of class folders"
        )
    pair_data = pairs if isinstance(pairs, PairsDataset) or pairs is None else load_pairs(pairs)
    class_data = classes if isinstance(classes, ClassesDataset) or classes is None else load_classes(classes)
    template_list = [templates] if isinstance(templates, str) else list(templates)
    if not template_list or not all(isinstance(t, str) and "{}" in t for t in template_list):
        raise ConfigurationError("every template needs one '{}' for the label, such as 'a photo of {}.'")
    k_values = tuple(sorted({int(k) for k in ks}))
    if not k_values or k_values[0] < 1:
        raise ConfigurationError(f"every k must be at least 1, not {list(ks)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
    for spec in specs:  # fail on a malformed open_clip name before any model is loaded
        _check_name(spec.model)

    images, pair_index, class_index = _image_list(pair_data, class_data)
    groups, pair_groups, zero_shot_groups = _text_groups(pair_data, class_data, template_list)
    say = progress or (lambda line: None)
    results = []
    for number, spec in enumerate(specs, start=1):
        where = "in a child process" if isolate else "in this process"
        say(
            f"[{number}/{len(specs)}] {spec.label}: loading and encoding {len(images)} images, "
            f"{sum(len(t) for _, t in groups)} texts ({where})"
        )
        job = _Job(spec.model, device, dtype, batch_size, images, groups, quiet)
        encoded = _run_isolated(job, spec.label) if isolate else _run_in_process(job)
        result = _score(spec, encoded, images, groups)
        if pair_data is not None:
            result.retrieval = _retrieval(
                pair_data, encoded.image_vectors[pair_index], _group_vectors(encoded, pair_groups), k_values
            )
        if class_data is not None:
            result.zero_shot = _zero_shot(
                class_data,
                encoded.image_vectors[class_index],
                _group_vectors(encoded, zero_shot_groups),
                template_list,
            )
        results.append(result)
        say(f"[{number}/{len(specs)}] {spec.label}: {result.summary()}")
    return ComparisonResult(
        models=results,
        ks=k_values,
        pairs=_describe_pairs(pair_data),
        classes=_describe_classes(class_data, template_list),
        memory_method="child-process ru_maxrss" if isolate else "sampled RSS (in-process)",
        environment=_environment(results),
    )


def _check_name(model: str) -> None:
    from siglip_retriever.encoding.backends import is_open_clip

    if is_open_clip(model):
        from siglip_retriever.encoding.backends.open_clip import parse_open_clip_id

        parse_open_clip_id(model)
    else:
        from siglip_retriever.encoding.presets import resolve_model

        resolve_model(model)


# -- what to encode ------------------------------------------------------------------------------


def _image_list(
    pairs: PairsDataset | None, classes: ClassesDataset | None
) -> tuple[list[str], list[int], list[int]]:
    """Every distinct image once, and where the pairs' and the class folders' images are in it."""
    images: list[str] = []
    position: dict[str, int] = {}

    def place(paths: Sequence[str]) -> list[int]:
        indices = []
        for path in paths:
            if path not in position:
                position[path] = len(images)
                images.append(path)
            indices.append(position[path])
        return indices

    pair_index = place(pairs.images) if pairs is not None else []
    class_index = place(classes.images) if classes is not None else []
    return images, pair_index, class_index


def _text_groups(
    pairs: PairsDataset | None, classes: ClassesDataset | None, templates: Sequence[str]
) -> tuple[list[tuple[str, list[str]]], list[int], list[int]]:
    """Texts grouped by language (NLLB tokenizers need it): the pairs' captions, then the prompts.

    Returns the groups and which of them belong to the pairs and to the zero-shot labels.
    """
    groups: list[tuple[str, list[str]]] = []
    pair_groups: list[int] = []
    zero_shot_groups: list[int] = []
    if pairs is not None:
        for language in pairs.languages:
            pair_groups.append(len(groups))
            groups.append((language, [pairs.captions[i] for i in pairs.captions_in(language)]))
    if classes is not None:
        for language in classes.languages:
            prompts = [
                template.format(name)
                for names in classes.label_names[language]
                for name in names
                for template in templates
            ]
            zero_shot_groups.append(len(groups))
            groups.append((language, prompts))
    return groups, pair_groups, zero_shot_groups


def _group_vectors(encoded: _Encoded, indices: Sequence[int]) -> list[Vectors]:
    return [encoded.text_vectors[i] for i in indices]


# -- running one model ---------------------------------------------------------------------------


def _encode(job: _Job, peak: Callable[[], int | None]) -> _Encoded:
    """Load the model and encode everything, timing each step (runs in the child or in-process)."""
    from siglip_retriever.encoding.backends import load_encoder

    if job.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    started = time.perf_counter()
    encoder = load_encoder(job.model, device=job.device, dtype=job.dtype, batch_size=job.batch_size)
    load_seconds = time.perf_counter() - started
    on_gpu = encoder.device.startswith("cuda")
    if on_gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
    language_aware = bool(getattr(encoder, "accepts_language", False))

    def texts(language: str, items: list[str]) -> Vectors:
        if language_aware:
            return encoder.encode_texts(items, language=language)  # type: ignore[call-arg]
        return encoder.encode_texts(items)

    first_text = next((t[0] for _, t in job.text_groups if t), None)
    if first_text is not None:  # warm-up: first calls allocate and pick kernels
        texts(job.text_groups[0][0], [first_text])
    if job.images:
        encoder.encode_images(job.images[:1])
    started = time.perf_counter()
    image_vectors = encoder.encode_images(job.images)
    image_seconds = time.perf_counter() - started
    started = time.perf_counter()
    text_vectors = [texts(language, items) for language, items in job.text_groups]
    text_seconds = time.perf_counter() - started
    gpu_peak = None
    if on_gpu:
        import torch

        gpu_peak = int(torch.cuda.max_memory_allocated())
    return _Encoded(
        model_id=encoder.model_id,
        family=encoder.family,
        score_kind=encoder.score_kind,
        dim=encoder.dim,
        device=encoder.device,
        logit_scale=encoder.logit_scale,
        logit_bias=encoder.logit_bias,
        load_seconds=load_seconds,
        image_seconds=image_seconds,
        text_seconds=text_seconds,
        peak_rss_bytes=peak(),
        peak_gpu_bytes=gpu_peak,
        threads=_torch_threads(),
        image_vectors=image_vectors,
        text_vectors=text_vectors,
    )


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _import_runtime(model: str) -> None:
    """Import the libraries every model of its backend needs, so that neither the load time nor
    the memory of a model counts them (a one-time cost of a few seconds and about 100 MiB)."""
    import torch  # noqa: F401
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer  # noqa: F401

    from siglip_retriever.encoding import encoder  # noqa: F401
    from siglip_retriever.encoding.backends import is_open_clip

    if is_open_clip(model):
        from siglip_retriever.encoding.backends.open_clip import import_open_clip

        import_open_clip()


def _current_rss() -> int | None:
    """This process's resident memory in bytes (Linux), else ``None``."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _max_rss() -> int | None:
    """The process's peak resident memory in bytes, as the kernel counts it."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def _child_main(job: _Job) -> _Encoded:
    """The child process's work: the baseline after imports, then load and encode."""
    _import_runtime(job.model)
    baseline = _current_rss() or _max_rss()

    def peak() -> int | None:
        highest = _max_rss()
        return None if highest is None or baseline is None else max(0, highest - baseline)

    return _encode(job, peak)


def _run_isolated(job: _Job, label: str) -> _Encoded:
    """Run ``job`` in a fresh interpreter (``python -m siglip_retriever.compare._child``).

    A plain subprocess rather than multiprocessing: it never re-imports the caller's main
    module, so it works from scripts without a ``__main__`` guard, notebooks and the CLI alike.
    """
    import pickle
    import subprocess
    import tempfile

    import siglip_retriever

    package_root = str(Path(siglip_retriever.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="siglip-compare-") as folder:
        job_file, result_file = Path(folder) / "job.pickle", Path(folder) / "result.pickle"
        job_file.write_bytes(pickle.dumps(job))
        process = subprocess.run(
            [sys.executable, "-m", "siglip_retriever.compare._child", str(job_file), str(result_file)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if job.quiet else None,
            check=False,
        )
        if process.returncode != 0 or not result_file.is_file():
            how = (
                f"was killed by signal {-process.returncode}, probably for lack of memory (try a smaller "
                "batch size)"
                if process.returncode < 0
                else f"exited with status {process.returncode}"
            )
            tail = (process.stderr or b"").decode(errors="replace").strip().splitlines()[-5:]
            raise ModelLoadError(
                f"the process that ran {label} ({job.model}) {how}"
                + (": " + " | ".join(tail) if tail else "")
            )
        outcome = pickle.loads(result_file.read_bytes())
    if isinstance(outcome, BaseException):
        raise outcome
    if not isinstance(outcome, _Encoded):  # pragma: no cover - the child writes one or the other
        raise ModelLoadError(f"the process that ran {label} returned {type(outcome).__name__}")
    return outcome


def child_entry(job_file: str, result_file: str) -> int:
    """The child process: read the job, run it, write the result (or the error) back."""
    import pickle

    job = pickle.loads(Path(job_file).read_bytes())
    try:
        outcome: object = _child_main(job)
    except Exception as exc:  # handed to the parent, which raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = ModelLoadError(f"{type(exc).__name__}: {exc}")
        outcome = exc
    Path(result_file).write_bytes(pickle.dumps(outcome))
    return 0


class _RssSampler:
    """Sample this process's RSS in a thread and keep the highest value."""

    def __init__(self) -> None:
        self.peak = _current_rss() or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(_SAMPLE_SECONDS):
            self.peak = max(self.peak, _current_rss() or 0)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _current_rss() or 0)


def _run_in_process(job: _Job) -> _Encoded:
    import gc

    from siglip_retriever.encoding.loading import forget_models, loaded_models

    _import_runtime(job.model)
    gc.collect()
    # models this process already holds stay loaded (other encoders share them); a model loaded
    # only for the comparison is dropped afterwards. An already loaded model loads in no time:
    # the child-process mode (the default) measures loading honestly.
    before = loaded_models()
    baseline = _current_rss()
    with _RssSampler() as sampler:
        encoded = _encode(job, lambda: None)
    encoded.peak_rss_bytes = None if baseline is None else max(0, sampler.peak - baseline)
    forget_models(loaded_models() - before)
    gc.collect()
    return encoded


# -- scoring -------------------------------------------------------------------------------------


def _score(
    spec: ModelSpec, encoded: _Encoded, images: Sequence[str], groups: Sequence[tuple[str, list[str]]]
) -> ModelResult:
    n_texts = sum(len(items) for _, items in groups)
    return ModelResult(
        name=spec.label,
        model_id=encoded.model_id,
        family=encoded.family,
        score_kind=encoded.score_kind,
        dim=encoded.dim,
        device=encoded.device,
        logit_scale=encoded.logit_scale,
        logit_bias=encoded.logit_bias,
        load_seconds=encoded.load_seconds,
        images=len(images),
        texts=n_texts,
        images_per_second=_rate(len(images), encoded.image_seconds),
        texts_per_second=_rate(n_texts, encoded.text_seconds),
        peak_memory_mb=_mb(encoded.peak_rss_bytes),
        peak_gpu_memory_mb=_mb(encoded.peak_gpu_bytes),
        torch_threads=encoded.threads,
    )


def _rate(count: int, seconds: float) -> float | None:
    return count / seconds if count and seconds > 0 else None


def _mb(count: int | None) -> float | None:
    return None if count is None else count / 2**20


def _retrieval(
    pairs: PairsDataset, image_vectors: Vectors, caption_groups: Sequence[Vectors], ks: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """Recall@k both ways, for all captions and for each language's."""
    text_vectors = np.zeros((len(pairs.captions), image_vectors.shape[1]), dtype=np.float32)
    for language, vectors in zip(pairs.languages, caption_groups, strict=True):
        text_vectors[pairs.captions_in(language)] = vectors
    similarity = text_vectors.astype(np.float64) @ image_vectors.astype(np.float64).T
    return retrieval_scores(similarity, pairs.caption_image, pairs.caption_language, ks)


def _zero_shot(
    classes: ClassesDataset,
    image_vectors: Vectors,
    prompt_groups: Sequence[Vectors],
    templates: Sequence[str],
) -> dict[str, float]:
    """Top-1 accuracy per label language; each label's vector averages its names x templates."""
    similarities = {}
    for language, vectors in zip(classes.languages, prompt_groups, strict=True):
        labels = []
        start = 0
        for names in classes.label_names[language]:
            count = len(names) * len(templates)
            mean = vectors[start : start + count].astype(np.float64).mean(axis=0)
            labels.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            start += count
        similarities[language] = image_vectors.astype(np.float64) @ np.stack(labels).T
    return zero_shot_scores(similarities, classes.image_class)


def _describe_pairs(pairs: PairsDataset | None) -> dict[str, Any] | None:
    if pairs is None:
        return None
    return {
        "source": pairs.source,
        "images": len(pairs.images),
        "captions": len(pairs.captions),
        "languages": pairs.languages,
    }


def _describe_classes(classes: ClassesDataset | None, templates: Sequence[str]) -> dict[str, Any] | None:
    if classes is None:
        return None
    return {
        "source": classes.source,
        "classes": len(classes.classes),
        "images": len(classes.images),
        "languages": classes.languages,
        "templates": list(templates),
    }


def _environment(results: Sequence[ModelResult]) -> dict[str, Any]:
    """Where the numbers were measured (versions read from package metadata: no torch import)."""
    import platform
    from importlib import metadata

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "devices": sorted({r.device for r in results}),
        "torch_threads": sorted({r.torch_threads for r in results}),
    }
    for package in ("torch", "transformers", "open_clip_torch"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return info
