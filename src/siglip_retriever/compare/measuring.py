"""Load one model and encode a workload, timing each step: the work of one model of a comparison.

- **load time**: wall-clock seconds to build the encoder from its files. Importing torch,
  transformers' auto classes and (for ``open_clip:`` models) open_clip comes first and is not
  counted (:func:`import_runtime`): a one-time cost in time and memory, the same for every
  model;
- **speed**: images per second (reading and decoding the files included, as indexing a folder
  would) and texts per second, after one warm-up image and text;
- **peak memory**: whatever the caller's ``peak`` reading says (see
  :mod:`~siglip_retriever.compare.processes`); on a GPU the peak of
  ``torch.cuda.max_memory_allocated`` as well.

The job and its result are plain picklable data, so that the job can run in a child process.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> from siglip_retriever.compare.measuring import EncodeJob, encode_job
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> Image.new("RGB", (32, 32), "red").save(f"{folder}/red.png")
    >>> job = EncodeJob(str(build_checkpoint(f"{folder}/model")), "cpu", "auto", 8,
    ...                 [f"{folder}/red.png"], [("en", ["red", "blue"])])
    >>> encoded = encode_job(job, peak=lambda: None)
    >>> encoded.facts.family, encoded.image_vectors.shape, encoded.text_vectors[0].shape
    ('siglip', (1, 32), (2, 32))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EncodeJob", "Encoded", "ModelFacts", "encode_job", "import_runtime", "torch_threads"]

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EncodeJob:
    """What one model must encode, and how to load it; picklable, so it can go to a child process.

    Attributes:
        model: a preset, hub id, checkpoint directory or ``open_clip:`` name.
        device, dtype, batch_size: as for :func:`~siglip_retriever.encoding.backends.load_encoder`.
        images: the image paths to encode.
        text_groups: ``(language, texts)`` to encode, group by group.
        quiet: hide transformers' load-time warnings and progress bars.

    Example:
        >>> EncodeJob("demo", "cpu", "auto", 32, ["/a.png"], [("en", ["a cat"])]).quiet
        True
    """

    model: str
    device: str
    dtype: str
    batch_size: int
    images: list[str]
    text_groups: list[tuple[str, list[str]]]
    quiet: bool = True


@dataclass(frozen=True)
class ModelFacts:
    """What a loaded model is: its id, family, score kind, vector size, device and calibration.

    Example:
        >>> from types import SimpleNamespace
        >>> encoder = SimpleNamespace(model_id="m", family="clip", score_kind="softmax", dim=8,
        ...                           device="cpu", logit_scale=4.6, logit_bias=0.0)
        >>> ModelFacts.of(encoder).score_kind
        'softmax'
    """

    model_id: str
    family: str
    score_kind: str
    dim: int
    device: str
    logit_scale: float
    logit_bias: float

    @classmethod
    def of(cls, encoder: Any) -> ModelFacts:
        """The facts of an encoder (any object with these attributes)."""
        return cls(**{item.name: getattr(encoder, item.name) for item in fields(cls)})


@dataclass
class Encoded:
    """What one model produced and how it fared.

    Attributes:
        facts: what the model is.
        load_seconds, image_seconds, text_seconds: wall-clock seconds of each step.
        peak_rss_bytes: how far resident memory rose (``None`` where it cannot be read).
        peak_gpu_bytes: peak CUDA memory allocated, on a GPU.
        threads: torch's CPU threads.
        image_vectors: one row per image of the job.
        text_vectors: one array per text group of the job.

    Example:
        >>> facts = ModelFacts("m", "siglip", "sigmoid", 2, "cpu", 2.3, -10.0)
        >>> vectors = np.zeros((1, 2), dtype=np.float32)
        >>> encoded = Encoded(facts, 1.0, 0.5, 0.5, None, None, 2, vectors, [vectors, 2 * vectors])
        >>> len(encoded.groups([1]))
        1
    """

    facts: ModelFacts
    load_seconds: float
    image_seconds: float
    text_seconds: float
    peak_rss_bytes: int | None
    peak_gpu_bytes: int | None
    threads: int
    image_vectors: Vectors
    text_vectors: list[Vectors] = field(default_factory=list)

    def groups(self, indices: Sequence[int]) -> list[Vectors]:
        """The vectors of the text groups at ``indices``."""
        return [self.text_vectors[i] for i in indices]


def encode_job(job: EncodeJob, peak: Callable[[], int | None]) -> Encoded:
    """Load the model and encode everything, timing each step (runs in the child or in-process).

    Args:
        job: what to load and encode.
        peak: read after encoding: how far resident memory rose, in bytes.
    """
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
    return Encoded(
        facts=ModelFacts.of(encoder),
        load_seconds=load_seconds,
        image_seconds=image_seconds,
        text_seconds=text_seconds,
        peak_rss_bytes=peak(),
        peak_gpu_bytes=gpu_peak,
        threads=torch_threads(),
        image_vectors=image_vectors,
        text_vectors=text_vectors,
    )


def torch_threads() -> int:
    """torch's CPU threads (imports torch).

    Example:
        >>> torch_threads() >= 1
        True
    """
    import torch

    return int(torch.get_num_threads())


def import_runtime(model: str) -> None:
    """Import the libraries every model of ``model``'s backend needs, so that neither the load time
    nor the memory of a model counts them (a one-time cost, the same for every model).

    Example:
        >>> import sys
        >>> import_runtime("demo")
        >>> "transformers" in sys.modules
        True
    """
    import torch  # noqa: F401
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer  # noqa: F401

    from siglip_retriever.encoding import encoder  # noqa: F401
    from siglip_retriever.encoding.backends import is_open_clip

    if is_open_clip(model):
        from siglip_retriever.encoding.backends.open_clip import import_open_clip

        import_open_clip()
