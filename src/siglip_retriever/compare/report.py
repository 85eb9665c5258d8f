"""The results of a comparison and every way of writing them: a terminal table, Markdown, JSON,
CSV and a PNG chart.

Example:
    >>> from siglip_retriever.compare.report import ComparisonResult, ModelResult
    >>> model = ModelResult(name="demo", model_id="demo", family="siglip", score_kind="sigmoid", dim=32)
    >>> model.zero_shot = {"overall": 0.5, "en": 0.5}
    >>> result = ComparisonResult(models=[model], ks=(1, 5, 10))
    >>> print(result.markdown().splitlines()[0])
    ## Model comparison
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from siglip_retriever.errors import ConfigurationError

__all__ = ["FORMATS", "ComparisonResult", "ModelResult"]

FORMATS: tuple[str, ...] = ("table", "md", "json", "csv", "png")
"""Output formats: ``table`` is printed; the others are files (``comparison.md``, ...)."""

DIRECTIONS = {"text_to_image": "text→image", "image_to_text": "image→text"}


@dataclass
class ModelResult:
    """One model's results.

    Attributes:
        name: the label in tables and charts.
        model_id: what was loaded.
        family: ``siglip``, ``siglip2``, ``clip`` or ``open_clip``.
        score_kind: ``sigmoid`` or ``softmax``.
        dim: vector size.
        device: where it ran.
        logit_scale, logit_bias: the model's score calibration.
        load_seconds: seconds to load the model from its files.
        images, texts: how many were encoded.
        images_per_second, texts_per_second: encoding speed (decoding image files included).
        peak_memory_mb: how far peak resident memory rose while loading and encoding (MiB).
        peak_gpu_memory_mb: peak CUDA memory allocated (MiB), on a GPU.
        torch_threads: torch's CPU threads.
        retrieval: ``{"overall" | language: {"captions", "images", "text_to_image": {"R@k": r},
            "image_to_text": {"R@k": r}}}`` for image-caption pairs.
        zero_shot: ``{"overall" | language: accuracy}`` for class folders.

    Example:
        >>> model = ModelResult(name="demo", model_id="demo", family="siglip", score_kind="sigmoid", dim=32)
        >>> model.load_seconds, model.images_per_second = 0.5, 20.0
        >>> model.summary()
        'load 0.50 s, 20.0 images/s, - texts/s, peak - MiB'
    """

    name: str
    model_id: str
    family: str
    score_kind: str
    dim: int
    device: str = "cpu"
    logit_scale: float = 0.0
    logit_bias: float = 0.0
    load_seconds: float | None = None
    images: int = 0
    texts: int = 0
    images_per_second: float | None = None
    texts_per_second: float | None = None
    peak_memory_mb: float | None = None
    peak_gpu_memory_mb: float | None = None
    torch_threads: int = 0
    retrieval: dict[str, dict[str, Any]] | None = None
    zero_shot: dict[str, float] | None = None

    def summary(self) -> str:
        """One line: load time, speeds, memory and the headline scores."""
        parts = [
            f"load {_num(self.load_seconds, 2)} s",
            f"{_num(self.images_per_second, 1)} images/s",
            f"{_num(self.texts_per_second, 1)} texts/s",
            f"peak {_num(self.peak_memory_mb, 0)} MiB",
        ]
        if self.retrieval:
            overall = self.retrieval["overall"]
            first = next(iter(overall["text_to_image"]))
            parts.append(
                f"{first} text→image {_pct(overall['text_to_image'][first])} %, "
                f"image→text {_pct(overall['image_to_text'][first])} %"
            )
        if self.zero_shot:
            parts.append(f"zero-shot {_pct(self.zero_shot['overall'])} %")
        return ", ".join(parts)


@dataclass
class ComparisonResult:
    """Several models measured on the same data in the same run.

    Attributes:
        models: one :class:`ModelResult` per model, in the order given.
        ks: the k of Recall@k.
        pairs: the image-caption data (source, counts, languages), if any.
        classes: the class-folder data (source, counts, languages, templates), if any.
        memory_method: how peak memory was measured.
        environment: versions, CPU count, devices.

    Example:
        >>> model = ModelResult(name="demo", model_id="demo", family="siglip", score_kind="sigmoid", dim=32)
        >>> result = ComparisonResult(models=[model], ks=(1, 5, 10))
        >>> result.table().splitlines()[0], list(result.to_dict())[:2]
        ('Load time, speed and peak memory', ['models', 'ks'])
    """

    models: list[ModelResult]
    ks: tuple[int, ...]
    pairs: dict[str, Any] | None = None
    classes: dict[str, Any] | None = None
    memory_method: str = ""
    environment: dict[str, Any] = field(default_factory=dict)

    # -- data ------------------------------------------------------------------------------------

    @property
    def retrieval_languages(self) -> list[str]:
        """``overall`` and then each caption language."""
        return ["overall", *self.pairs["languages"]] if self.pairs else []

    @property
    def zero_shot_languages(self) -> list[str]:
        """``overall`` and then each label language."""
        return ["overall", *self.classes["languages"]] if self.classes else []

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``NaN`` becomes ``null``)."""
        return _clean(asdict(self))

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per number: ``model, model_id, score_kind, task, language, metric, value``.

        ``task`` is ``speed`` (metrics ``load_seconds``, ``images_per_second``,
        ``texts_per_second``, ``peak_memory_mb``, ``peak_gpu_memory_mb``), ``text_to_image``
        and ``image_to_text`` (``R@k``) or ``zero_shot`` (``accuracy``).
        """
        rows = []
        for model in self.models:
            base = {"model": model.name, "model_id": model.model_id, "score_kind": model.score_kind}
            for metric in (
                "load_seconds",
                "images_per_second",
                "texts_per_second",
                "peak_memory_mb",
                "peak_gpu_memory_mb",
            ):
                value = getattr(model, metric)
                if value is not None:
                    rows.append({**base, "task": "speed", "language": "", "metric": metric, "value": value})
            for language, scores in (model.retrieval or {}).items():
                for direction in DIRECTIONS:
                    for metric, value in scores[direction].items():
                        rows.append(
                            {
                                **base,
                                "task": direction,
                                "language": language,
                                "metric": metric,
                                "value": value,
                            }
                        )
            for language, value in (model.zero_shot or {}).items():
                rows.append(
                    {**base, "task": "zero_shot", "language": language, "metric": "accuracy", "value": value}
                )
        return rows

    def to_csv(self) -> str:
        """:meth:`csv_rows` as CSV text with a header."""
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer,
            fieldnames=["model", "model_id", "score_kind", "task", "language", "metric", "value"],
            lineterminator="\n",
        )
        writer.writeheader()
        for row in self.csv_rows():
            value = row["value"]
            writer.writerow({**row, "value": "" if _missing(value) else f"{value:.6g}"})
        return buffer.getvalue()

    # -- tables ----------------------------------------------------------------------------------

    def _sections(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, header, rows) of each table, as text cells."""
        sections = []
        speed_header = ["model", "family", "score", "dim", "load s", "images/s", "texts/s", "peak MiB"]
        gpu = any(m.peak_gpu_memory_mb is not None for m in self.models)
        if gpu:
            speed_header.append("GPU MiB")
        speed_rows = []
        for m in self.models:
            row = [
                m.name,
                m.family,
                m.score_kind,
                str(m.dim),
                _num(m.load_seconds, 2),
                _num(m.images_per_second, 1),
                _num(m.texts_per_second, 1),
                _num(m.peak_memory_mb, 0),
            ]
            if gpu:
                row.append(_num(m.peak_gpu_memory_mb, 0))
            speed_rows.append(row)
        sections.append(("Load time, speed and peak memory", speed_header, speed_rows))
        if self.pairs:
            ks = [f"R@{k}" for k in self.ks]
            header = ["model", *[f"t→i {k}" for k in ks], *[f"i→t {k}" for k in ks]]
            rows = []
            for m in self.models:
                overall = (m.retrieval or {}).get("overall", {})
                rows.append(
                    [m.name]
                    + [_pct(overall.get("text_to_image", {}).get(k)) for k in ks]
                    + [_pct(overall.get("image_to_text", {}).get(k)) for k in ks]
                )
            title = (
                f"Retrieval, all languages: Recall@k in % ({self.pairs['images']} images, "
                f"{self.pairs['captions']} captions)"
            )
            sections.append((title, header, rows))
            headline = ks[0]
            for direction, arrow in DIRECTIONS.items():
                header = ["model", *self.retrieval_languages]
                rows = [
                    [m.name]
                    + [
                        _pct((m.retrieval or {}).get(lang, {}).get(direction, {}).get(headline))
                        for lang in self.retrieval_languages
                    ]
                    for m in self.models
                ]
                sections.append((f"{arrow} {headline} by caption language, %", header, rows))
        if self.classes:
            header = ["model", *self.zero_shot_languages]
            rows = [
                [m.name] + [_pct((m.zero_shot or {}).get(lang)) for lang in self.zero_shot_languages]
                for m in self.models
            ]
            title = (
                f"Zero-shot top-1 accuracy by label language, % ({self.classes['images']} images, "
                f"{self.classes['classes']} classes)"
            )
            sections.append((title, header, rows))
        return sections

    def table(self) -> str:
        """Plain-text tables for a terminal."""
        blocks = []
        for title, header, rows in self._sections():
            widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
            numeric = _numeric_columns(rows, len(header))
            lines = [title]
            for i, row in enumerate([header, *rows]):
                cells = [
                    cell.rjust(w) if numeric[j] else cell.ljust(w)
                    for j, (cell, w) in enumerate(zip(row, widths, strict=True))
                ]
                lines.append("  ".join(cells).rstrip())
                if i == 0:
                    lines.append("  ".join("-" * w for w in widths))
            blocks.append("\n".join(lines))
        blocks.append(self._footer())
        return "\n\n".join(blocks) + "\n"

    def markdown(self) -> str:
        """The same tables in Markdown, with the dataset and how it was measured."""
        parts = ["## Model comparison", ""]
        if self.pairs:
            parts.append(
                f"Image-caption pairs: `{_short(self.pairs['source'])}`, {self.pairs['images']} images, "
                f"{self.pairs['captions']} captions in {', '.join(self.pairs['languages'])}."
            )
        if self.classes:
            parts.append(
                f"Class folders: `{_short(self.classes['source'])}`, {self.classes['images']} images in "
                f"{self.classes['classes']} classes, labels in {', '.join(self.classes['languages'])}."
            )
        parts.append("")
        for title, header, rows in self._sections():
            parts.append(f"### {title}")
            parts.append("")
            parts.append("| " + " | ".join(header) + " |")
            numeric = _numeric_columns(rows, len(header))
            parts.append("|" + "|".join("---:" if right else "---" for right in numeric) + "|")
            parts.extend("| " + " | ".join(row) + " |" for row in rows)
            parts.append("")
        parts.append(self._footer())
        return "\n".join(parts) + "\n"

    def _footer(self) -> str:
        env = self.environment
        where = ", ".join(
            f"{key} {env[key]}" for key in ("torch", "transformers", "open_clip_torch") if key in env
        )
        return (
            f"Measured in one run on {', '.join(env.get('devices', [])) or '?'} "
            f"({env.get('cpu_count', '?')} CPU cores, torch threads {env.get('torch_threads', '?')}; "
            f"{where}). "
            f"Peak memory: growth of resident memory while loading and encoding ({self.memory_method}). "
            "Images/s include reading and decoding the files."
        )

    # -- files -----------------------------------------------------------------------------------

    def write_chart(self, path: str | os.PathLike[str]) -> Path:
        """Write the PNG chart (needs matplotlib: ``pip install 'siglip-retriever[compare]'``)."""
        from siglip_retriever.compare.chart import write_chart

        return write_chart(self, path)

    def write(self, folder: str | os.PathLike[str], formats: Iterable[str] = FORMATS) -> dict[str, Path]:
        """Write ``comparison.md``, ``.json``, ``.csv`` and ``.png`` (those in ``formats``) to ``folder``.

        ``table`` in ``formats`` writes ``comparison.txt``. Returns format -> path.

        Raises:
            ConfigurationError: an unknown format.
            MissingDependencyError: ``png`` without matplotlib.
        """
        wanted = check_formats(formats)
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        texts = {
            "table": ("txt", self.table),
            "md": ("md", self.markdown),
            "json": ("json", self.to_json),
            "csv": ("csv", self.to_csv),
        }
        for name in wanted:
            if name == "png":
                written[name] = self.write_chart(out / "comparison.png")
                continue
            suffix, render = texts[name]
            target = out / f"comparison.{suffix}"
            target.write_text(render(), encoding="utf-8")
            written[name] = target
        return written


def check_formats(formats: Iterable[str] | str) -> list[str]:
    """Validate output formats (a list or a comma-separated string), keeping their order.

    Raises:
        ConfigurationError: an unknown format.
        MissingDependencyError: ``png`` without matplotlib installed.
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = []
    for item in items:
        name = item.strip().lower()
        name = {"markdown": "md", "text": "table", "txt": "table"}.get(name, name)
        if not name:
            continue
        if name not in FORMATS:
            raise ConfigurationError(f"unknown format {item!r}; choose from {', '.join(FORMATS)}")
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        raise ConfigurationError(f"give at least one format: {', '.join(FORMATS)}")
    if "png" in wanted:
        from siglip_retriever.compare.chart import require_matplotlib

        require_matplotlib()
    return wanted


def _numeric_columns(rows: list[list[str]], count: int) -> list[bool]:
    """Which columns hold only numbers (or ``-``): those are right-aligned."""

    def is_number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return cell == "-"
        return True

    return [bool(rows) and all(is_number(row[i]) for row in rows) for i in range(count)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _num(value: float | None, digits: int) -> str:
    return "-" if _missing(value) else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if _missing(value) else f"{100 * value:.1f}"  # type: ignore[operator]


def _short(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
