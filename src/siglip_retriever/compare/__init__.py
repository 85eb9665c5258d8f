"""Model comparison: several models on your data, measured in one run.

Give image-caption pairs (CSV or JSON Lines: image path, caption, language) for text→image
and image→text Recall@k, per language and overall, and/or a folder of class sub-folders (with
optional translated label names in ``labels.json``) for zero-shot top-1 accuracy per language.
Every model also gets its load time, images/s, texts/s and peak memory, measured in the same
run. The result prints as a table and writes Markdown, JSON, CSV and a PNG chart.

Models are anything :func:`~siglip_retriever.encoding.backends.load_encoder` takes: presets, model-hub
ids, checkpoint directories (SigLIP, SigLIP 2, CLIP) and ``open_clip:`` names.

One job per module: :mod:`~siglip_retriever.compare.metrics` (Recall@k, accuracy),
:mod:`~siglip_retriever.compare.datasets` (reading the data),
:mod:`~siglip_retriever.compare.specs` (the model names),
:mod:`~siglip_retriever.compare.workload` (what every model encodes),
:mod:`~siglip_retriever.compare.measuring` (loading, encoding, timing one model),
:mod:`~siglip_retriever.compare.memory` (peak memory),
:mod:`~siglip_retriever.compare.processes` (a child process per model, or this one),
:mod:`~siglip_retriever.compare.scoring` (one model's scores),
:mod:`~siglip_retriever.compare.runner` (``compare_models``: every model in turn),
:mod:`~siglip_retriever.compare.report` (tables and files),
:mod:`~siglip_retriever.compare.chart` (the PNG) and
:mod:`~siglip_retriever.compare.sample` (the offline demo data set).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from siglip_retriever.compare import compare_models
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (folder / "classes" / name).mkdir(parents=True)
    ...     Image.new("RGB", (32, 32), "red").save(folder / "classes" / name / "1.png")
    >>> siglip, clip = build_checkpoint(folder / "a"), build_checkpoint(folder / "b", family="clip")
    >>> result = compare_models(
    ...     [f"siglip={siglip}", f"clip={clip}"], classes=folder / "classes", device="cpu", isolate=False
    ... )
    >>> [(m.name, m.score_kind) for m in result.models]
    [('siglip', 'sigmoid'), ('clip', 'softmax')]
    >>> sorted(p.name for p in result.write(folder / "out", ["md", "json", "csv"]).values())
    ['comparison.csv', 'comparison.json', 'comparison.md']
"""

from __future__ import annotations

from siglip_retriever.compare.datasets import ClassesDataset, PairsDataset, load_classes, load_pairs
from siglip_retriever.compare.metrics import (
    DEFAULT_KS,
    image_to_text_ranks,
    recall_at_k,
    retrieval_scores,
    text_to_image_ranks,
    top1_accuracy,
    zero_shot_scores,
)
from siglip_retriever.compare.report import FORMATS, ComparisonResult, ModelResult
from siglip_retriever.compare.runner import DEFAULT_TEMPLATES, compare_models
from siglip_retriever.compare.specs import ModelSpec, parse_model_specs

__all__ = [
    "DEFAULT_KS",
    "DEFAULT_TEMPLATES",
    "FORMATS",
    "ClassesDataset",
    "ComparisonResult",
    "ModelResult",
    "ModelSpec",
    "PairsDataset",
    "compare_models",
    "image_to_text_ranks",
    "load_classes",
    "load_pairs",
    "parse_model_specs",
    "recall_at_k",
    "retrieval_scores",
    "text_to_image_ranks",
    "top1_accuracy",
    "zero_shot_scores",
]
