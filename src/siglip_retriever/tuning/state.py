"""What a fine-tuning run carries from step to step, as one object that saves and restores itself.

A :class:`TrainingState` holds the model that trains, its optimiser, the next step, the loss of
every step so far (from step 0, whichever run made them) and the held-out scores before
training. :meth:`TrainingState.save` writes all of it to a folder in one file, ``state.pt``, replaced
atomically (``meta.json`` beside it says the same without the weights, for people), and
:meth:`TrainingState.restore` reads it back into a new run, which refuses a state saved by a run
with another model, pairs or configuration.

Example:
    >>> import tempfile
    >>> import torch
    >>> from pathlib import Path
    >>> from siglip_retriever.tuning.state import TrainingState
    >>> model = torch.nn.Linear(2, 2)
    >>> state = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1), before={"R@1": 0.5})
    >>> state.record(0.7)
    >>> folder = Path(tempfile.mkdtemp())
    >>> state.save(folder, {"run": 1})
    >>> again = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1))
    >>> again.restore(folder, {"run": 1})
    >>> again.step, again.losses, again.before, TrainingState.saved_step(folder)
    (1, [0.7], {'R@1': 0.5}, 1)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siglip_retriever.errors import ConfigurationError

if TYPE_CHECKING:
    import torch

__all__ = ["TrainingState"]


@dataclass
class TrainingState:
    """The training loop's state: the model and optimiser, the next step, every loss so far and
    the scores before training.

    ``step`` is always ``len(losses)``: :meth:`record` adds a step's loss and moves to the next
    step, and a saved state holds every loss from step 0, so a run resumed any number of times
    reports the losses of an uninterrupted one.

    Attributes:
        model: the model that trains (LoRA-wrapped for LoRA); only its trainable parameters are saved.
        optimizer: its optimiser.
        losses: the loss of every step done, from step 0.
        before: the held-out scores of the base model.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(1, 1)
        >>> state = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1))
        >>> state.record(0.5); state.record(0.25)
        >>> state.step, state.losses
        (2, [0.5, 0.25])
    """

    model: Any
    optimizer: torch.optim.Optimizer
    losses: list[float] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)

    STATE_FILE = "state.pt"
    """The file a run resumes from: all of the state, and the run's identity."""
    META_FILE = "meta.json"
    """The same without the weights and the optimiser, readable by people and scripts."""

    @property
    def step(self) -> int:
        """The next step to run (the number of steps done)."""
        return len(self.losses)

    def record(self, loss: float) -> None:
        """The step's loss: the step is done, the state is at the next one."""
        self.losses.append(float(loss))

    def save(self, folder: Path, identity: dict[str, Any]) -> None:
        """Write the state to ``folder``, with ``identity`` (what a resumed run must share with
        this one: model, pairs, configuration), in one file replaced atomically: a run killed
        while saving resumes from the state saved before."""
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        trainable = {name for name, p in self.model.named_parameters() if p.requires_grad}
        meta = {**identity, "step": self.step, "before": self.before, "losses": self.losses}
        saved = {
            "meta": meta,
            "model": {k: v for k, v in self.model.state_dict().items() if k in trainable},
            "optimizer": self.optimizer.state_dict(),
        }
        torch.save(saved, folder / f"{self.STATE_FILE}.tmp")
        os.replace(folder / f"{self.STATE_FILE}.tmp", folder / self.STATE_FILE)
        (folder / f"{self.META_FILE}.tmp").write_text(json.dumps(meta))
        os.replace(folder / f"{self.META_FILE}.tmp", folder / self.META_FILE)

    def restore(self, folder: Path, identity: dict[str, Any]) -> None:
        """Load the state saved in ``folder`` into this one: the trainable weights, the optimiser,
        every loss so far and the scores before.

        Raises:
            ConfigurationError: the state was saved by a run with another ``identity``, or by an
                older version.
        """
        import torch

        saved = torch.load(folder / self.STATE_FILE, weights_only=True)
        if "meta" not in saved:
            raise ConfigurationError(
                f"the saved run in {folder} was saved by siglip-retriever 0.5 or older, whose state "
                "cannot resume here; start the run again without --resume in another --out"
            )
        meta = saved["meta"]
        differs = [key for key in identity if meta.get(key) != identity[key]]
        if differs:
            raise ConfigurationError(
                f"the saved run in {folder} was started with another {', '.join(differs)}; run the "
                "same command as before with --resume, or start a new run in another --out"
            )
        self.model.load_state_dict(saved["model"], strict=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.losses = [float(loss) for loss in meta["losses"]]
        self.before = meta["before"]

    @classmethod
    def saved_step(cls, folder: Path) -> int:
        """The step of the state saved in ``folder`` (0 when there is none)."""
        try:
            return int(json.loads((folder / cls.META_FILE).read_text())["step"])
        except (OSError, ValueError, KeyError):
            return 0
