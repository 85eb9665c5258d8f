"""Compare models on one dataset: check the options, run each model in turn, gather the results.

Each model is loaded and run on its own, one after the other (never two at once, so that their
speeds are measured on the same idle machine), by default in a fresh child process. The pieces:
:mod:`~siglip_retriever.compare.specs` (the model names),
:mod:`~siglip_retriever.compare.workload` (what every model encodes),
:mod:`~siglip_retriever.compare.measuring` (load time, speed, memory of one model),
:mod:`~siglip_retriever.compare.processes` (in a child process or in this one) and
:mod:`~siglip_retriever.compare.scoring` (Recall@k and zero-shot accuracy of its vectors).

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever.compare.datasets import PairsDataset
    >>> from siglip_retriever.compare.runner import compare_models
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> root = tempfile.mkdtemp()
    >>> paths = [f"{root}/{colour}.png" for colour in ("red", "blue")]
    >>> for path, colour in zip(paths, ("red", "blue")):
    ...     Image.new("RGB", (32, 32), colour).save(path)
    >>> pairs = PairsDataset(paths, ["red", "blue"], [0, 1], ["en", "en"])
    >>> result = compare_models(
    ...     [f"tiny={build_checkpoint(root + '/model')}"], pairs=pairs, device="cpu", isolate=False
    ... )
    >>> result.models[0].name, sorted(result.models[0].retrieval["overall"]["text_to_image"])
    ('tiny', ['R@1', 'R@10', 'R@5'])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from siglip_retriever.compare.datasets import ClassesDataset, PairsDataset, load_classes, load_pairs
from siglip_retriever.compare.measuring import EncodeJob
from siglip_retriever.compare.metrics import DEFAULT_KS
from siglip_retriever.compare.processes import run_in_process, run_isolated
from siglip_retriever.compare.report import ComparisonResult, ModelResult
from siglip_retriever.compare.scoring import score_model
from siglip_retriever.compare.specs import ModelSpec, check_model_name, parse_model_specs
from siglip_retriever.compare.workload import Workload, plan_workload
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.search.templates import parse_template

__all__ = ["DEFAULT_TEMPLATES", "ModelSpec", "compare_models", "parse_model_specs"]  # the last two from specs

DEFAULT_TEMPLATES: tuple[str, ...] = ("{}",)
"""Zero-shot prompts: the label names as written (write full prompts in ``labels.json``)."""


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
    workload = _checked_workload(pairs, classes, templates)
    k_values = tuple(sorted({int(k) for k in ks}))
    if not k_values or k_values[0] < 1:
        raise ConfigurationError(f"every k must be at least 1, not {list(ks)}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, not {batch_size!r}")
    for spec in specs:  # fail on a malformed open_clip name before any model is loaded
        check_model_name(spec.model)
    say = progress or (lambda line: None)
    results = []
    for number, spec in enumerate(specs, start=1):
        where = "in a child process" if isolate else "in this process"
        say(
            f"[{number}/{len(specs)}] {spec.label}: loading and encoding {len(workload.images)} images, "
            f"{workload.text_count} texts ({where})"
        )
        job = EncodeJob(spec.model, device, dtype, batch_size, workload.images, workload.text_groups, quiet)
        encoded = run_isolated(job, spec.label) if isolate else run_in_process(job)
        results.append(score_model(spec.label, encoded, workload, k_values))
        say(f"[{number}/{len(specs)}] {spec.label}: {results[-1].summary()}")
    return ComparisonResult(
        models=results,
        ks=k_values,
        pairs=_summary(workload.pairs, ("images", "captions")),
        classes=_summary(workload.classes, ("classes", "images"), templates=list(workload.templates)),
        memory_method="child-process ru_maxrss" if isolate else "sampled RSS (in-process)",
        environment=_environment(results),
    )


def _checked_workload(
    pairs: str | os.PathLike[str] | PairsDataset | None,
    classes: str | os.PathLike[str] | ClassesDataset | None,
    templates: Sequence[str],
) -> Workload:
    """Load the data sets and check the templates; what every model will encode."""
    if pairs is None and classes is None:
        raise ConfigurationError(
            "give image-caption pairs (a CSV or JSONL file) or a folder of class folders"
        )
    pair_data = pairs if isinstance(pairs, PairsDataset) or pairs is None else load_pairs(pairs)
    class_data = classes if isinstance(classes, ClassesDataset) or classes is None else load_classes(classes)
    template_list = [templates] if isinstance(templates, str) else list(templates)
    if not template_list:
        raise ConfigurationError("give at least one template, such as 'a photo of {}.'")
    for template in template_list:
        parse_template(template)
    return plan_workload(pair_data, class_data, template_list)


def _summary(
    data: PairsDataset | ClassesDataset | None, counted: Sequence[str], **extra: Any
) -> dict[str, Any] | None:
    """What a data set is, for the reports: its source, the sizes of its ``counted`` lists, its
    languages, then ``extra``."""
    if data is None:
        return None
    sizes = {name: len(getattr(data, name)) for name in counted}
    return {"source": data.source, **sizes, "languages": data.languages, **extra}


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
