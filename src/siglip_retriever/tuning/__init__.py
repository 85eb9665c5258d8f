"""Fine-tuning SigLIP (or CLIP) on your own image-caption pairs, with the sigmoid loss.

:func:`finetune` (also ``siglip_retriever.finetune`` and ``siglip-retriever finetune``) trains a
checkpoint on a pairs file and saves it where every part of the package loads it. Its modules:
:mod:`.config` (the choices), :mod:`.data` (the pairs, checked, split and batched), :mod:`.model`
(what trains, LoRA, saving), :mod:`.evaluate` (held-out Recall@k), :mod:`.state` (the loop's
state, saved and restored), :mod:`.trainer` (the run, resumable) and :mod:`.report` (the report
and the model card). The optimiser, its schedule and the loss of each model family are the
package's one recipe (:mod:`siglip_retriever.training`), which the demo's training uses too.

Example:
    >>> from siglip_retriever.tuning import FinetuneConfig
    >>> FinetuneConfig().train
    'last'
"""

from __future__ import annotations

from siglip_retriever.tuning.config import FinetuneConfig
from siglip_retriever.tuning.report import FinetuneReport
from siglip_retriever.tuning.trainer import FinetuneInterrupted, finetune

__all__ = ["FinetuneConfig", "FinetuneInterrupted", "FinetuneReport", "finetune"]
