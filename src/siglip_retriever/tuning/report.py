"""What a fine-tuning run did and how well: :class:`FinetuneReport`, its table, its JSON file and
the model card written beside the checkpoint (:func:`write_outputs`).

Example:
    >>> from siglip_retriever.tuning.report import recall_table
    >>> scores = {"overall": {"text_to_image": {"R@1": 0.5, "R@5": 1.0, "R@10": 1.0},
    ...                       "image_to_text": {"R@1": 0.25, "R@5": 1.0, "R@10": 1.0}}}
    >>> after = {k: {d: {r: 0.75 for r in v} for d, v in s.items()} for k, s in scores.items()}
    >>> print(recall_table(scores, after))
    scope    direction    R@1          R@5          R@10
    overall  text->image  0.50 > 0.75  1.00 > 0.75  1.00 > 0.75
    overall  image->text  0.25 > 0.75  1.00 > 0.75  1.00 > 0.75
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REPORT_FILE", "FinetuneReport", "recall_table", "write_outputs"]

REPORT_FILE = "finetune-report.json"
"""The report's file name in the output folder."""

_DIRECTIONS = (("text_to_image", "text->image"), ("image_to_text", "image->text"))
_TOLERANCE = 1e-9


@dataclass
class FinetuneReport:
    """A fine-tuning run: its facts and its held-out Recall@k before and after.

    Attributes:
        base_model: the checkpoint it started from.
        out: the folder of the new checkpoint.
        config: the run's :class:`~siglip_retriever.tuning.config.FinetuneConfig`, as a dict.
        training, held_out: the pictures, pairs, languages and skipped pictures of each set.
        held_out_source: a second file, or the share of the pictures held out.
        steps, seconds, peak_memory_mib: how long and how much memory it took.
        parameters: ``(trainable, total)`` parameter counts.
        losses: the loss of every step.
        before, after: Recall@1/5/10 both ways, overall and per language
            (:func:`~siglip_retriever.compare.metrics.retrieval_scores`).
        command: the command line that started the run.
    """

    base_model: str
    out: str
    config: dict[str, Any]
    training: dict[str, Any]
    held_out: dict[str, Any]
    held_out_source: str
    steps: int
    seconds: float
    peak_memory_mib: float
    parameters: tuple[int, int]
    losses: list[float]
    before: dict[str, Any]
    after: dict[str, Any]
    command: list[str] = field(default_factory=list)

    @property
    def fell(self) -> list[str]:
        """Every held-out Recall@k that is lower after than before (``"fr text->image R@1 0.90 ->
        0.80"``): a run that made the model worse."""
        found = []
        for scope, scores in self.after.items():
            for key, name in _DIRECTIONS:
                for k, value in scores[key].items():
                    old = self.before.get(scope, {}).get(key, {}).get(k)
                    if old is not None and value < old - _TOLERANCE:
                        found.append(f"{scope} {name} {k} {old:.2f} -> {value:.2f}")
        return found

    def table(self) -> str:
        """The held-out Recall@k, before > after, as a text table."""
        return recall_table(self.before, self.after)

    def summary(self) -> str:
        """A few lines: what ran, how long, the table, and a warning when a recall fell."""
        trainable, total = self.parameters
        train, held = self.training, self.held_out
        lines = [
            f"fine-tuned {self.base_model} on {train['pairs']} pairs ({train['images']} pictures) "
            f"in {self.steps} steps, {self.seconds:.0f} s, peak memory {self.peak_memory_mib:.0f} MiB; "
            f"{trainable:,} of {total:,} parameters trained ({self.config['train']})",
            f"held out: {held['pairs']} pairs, {held['images']} pictures ({self.held_out_source})",
            self.table(),
            f"saved to {self.out}",
        ]
        if self.training["skipped"]:
            lines.append(f"skipped {len(self.training['skipped'])} unreadable picture(s); see {REPORT_FILE}")
        if self.fell:
            lines.append("WARNING: the held-out recall FELL: " + "; ".join(self.fell))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``fell`` and the first and last losses."""
        data = asdict(self)
        data["fell"] = self.fell
        data["loss_first"] = self.losses[0] if self.losses else None
        data["loss_last"] = self.losses[-1] if self.losses else None
        return data


def recall_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Recall@k per scope and direction, ``before > after``, aligned."""
    ks = list(next(iter(after.values()))["text_to_image"])
    rows = [["scope", "direction", *ks]]
    for scope, scores in after.items():
        for key, name in _DIRECTIONS:
            cells = []
            for k in ks:
                old = before.get(scope, {}).get(key, {}).get(k)
                cells.append(
                    f"{old:.2f} > {scores[key][k]:.2f}" if old is not None else f"{scores[key][k]:.2f}"
                )
            rows.append([scope, name, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def write_outputs(report: FinetuneReport, out: Path) -> None:
    """Write ``finetune-report.json`` and the model card ``README.md`` into ``out``."""
    (out / REPORT_FILE).write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(_model_card(report), encoding="utf-8")


def _model_card(report: FinetuneReport) -> str:
    command = shlex.join(report.command) if report.command else "siglip_retriever.finetune(...)"
    warning = (
        "\n**Warning: the held-out recall fell:** " + "; ".join(report.fell) + "\n" if report.fell else ""
    )
    return f"""---
library_name: transformers
base_model: {report.base_model}
tags: [siglip-retriever, fine-tuned, image-text-retrieval]
---

# Fine-tuned from {report.base_model}

Fine-tuned with `siglip-retriever finetune` on {report.training["pairs"]} image-caption pairs
({report.training["images"]} pictures; languages: {", ".join(report.training["languages"])}),
{report.steps} steps ({report.config["train"]} parameters; {report.parameters[0]:,} of
{report.parameters[1]:,} trained), in {report.seconds:.0f} s.

Load it with `SiglipEncoder("{report.out}")` or `siglip-retriever --model {report.out} ...`. A store
built with the base model must be indexed again with this one.

## Held-out Recall@k (before > after)

{report.held_out["pairs"]} pairs, {report.held_out["images"]} pictures ({report.held_out_source}).
{warning}
```text
{report.table()}
```

## Command

```bash
{command}
```

The run's facts (configuration, losses, seed, peak memory) are in `{REPORT_FILE}`.
"""
