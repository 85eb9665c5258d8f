"""The comparison chart: scores by language, one bar per model, as a PNG (matplotlib).

One panel per measure: text→image and image→text Recall@k (the smallest k) for image-caption
pairs, top-1 accuracy for class folders; in each, a group of bars per language ("overall"
first) with one bar per model. matplotlib is imported here only, through its object-oriented
API (no pyplot, no global backend change).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from siglip_retriever.compare.chart import write_chart
    >>> from siglip_retriever.compare.report import ComparisonResult, ModelResult
    >>> model = ModelResult(name="demo", model_id="demo", family="siglip", score_kind="sigmoid", dim=32)
    >>> model.zero_shot = {"overall": 0.75, "en": 0.75}
    >>> classes = {"source": "x", "classes": 2, "images": 4, "languages": ["en"]}
    >>> result = ComparisonResult([model], (1,), classes=classes)
    >>> path = write_chart(result, Path(tempfile.mkdtemp()) / "c.png")
    >>> path.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:
    from siglip_retriever.compare.report import ComparisonResult

__all__ = ["require_matplotlib", "write_chart"]


def require_matplotlib() -> None:
    """Raise :class:`MissingDependencyError` unless matplotlib can be imported."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError("matplotlib", "compare", "The comparison chart (--format png)")


def _panels(result: ComparisonResult) -> list[tuple[str, list[str], dict[str, list[float]]]]:
    """(title, languages, model -> values in %) of each panel."""
    panels = []
    if result.pairs:
        k = f"R@{result.ks[0]}"
        languages = result.retrieval_languages
        for direction, arrow in (("text_to_image", "text → image"), ("image_to_text", "image → text")):
            values = {
                m.name: [
                    _percent((m.retrieval or {}).get(lang, {}).get(direction, {}).get(k))
                    for lang in languages
                ]
                for m in result.models
            }
            panels.append((f"{arrow} {k} (%)", languages, values))
    if result.classes:
        languages = result.zero_shot_languages
        values = {
            m.name: [_percent((m.zero_shot or {}).get(lang)) for lang in languages] for m in result.models
        }
        panels.append(("zero-shot top-1 accuracy (%)", languages, values))
    return panels


def _percent(value: float | None) -> float:
    return math.nan if value is None or math.isnan(value) else 100.0 * value


def write_chart(result: ComparisonResult, path: str | os.PathLike[str]) -> Path:
    """Draw the chart of ``result`` and save it as a PNG at ``path``; return the path.

    Raises:
        MissingDependencyError: matplotlib is not installed.
        ConfigurationError: the result has nothing to draw.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panels(result)
    if not panels or not result.models:
        raise ConfigurationError("the comparison has no scores to draw")
    widest = max(len(languages) for _, languages, _ in panels)
    figure = Figure(
        figsize=(max(6.0, 1.0 + widest * (0.35 + 0.22 * len(result.models))), 3.0 * len(panels) + 0.8)
    )
    FigureCanvasAgg(figure)
    axes_list: Any = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
    colours = [f"C{i % 10}" for i in range(len(result.models))]
    width = 0.8 / len(result.models)
    for axes, (title, languages, values) in zip(axes_list, panels, strict=True):
        for i, (name, heights) in enumerate(values.items()):
            offsets = [x - 0.4 + width * (i + 0.5) for x in range(len(languages))]
            bars = axes.bar(
                offsets, [0.0 if math.isnan(h) else h for h in heights], width, label=name, color=colours[i]
            )
            axes.bar_label(
                bars, labels=["" if math.isnan(h) else f"{h:.0f}" for h in heights], fontsize=7, padding=1
            )
        axes.set_xticks(range(len(languages)), languages)
        axes.set_ylim(0, 109)
        axes.set_title(title, fontsize=10, loc="left")
        axes.grid(axis="y", alpha=0.3)
        axes.set_axisbelow(True)
    # above the first panel, right-aligned with its title's line, so that no bar is hidden
    axes_list[0].legend(
        fontsize=8,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=min(len(result.models), 4),
        frameon=False,
    )
    figure.suptitle("Model comparison", fontsize=12)
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png", dpi=120)
    return target
