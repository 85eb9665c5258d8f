"""Where one model of a comparison runs: in a fresh child process, or in this process.

Each model is loaded and run on its own, one after the other (never two at once, so that their
speeds are measured on the same idle machine):

- :func:`run_isolated` (the default) runs it in a fresh interpreter,
  ``python -m siglip_retriever.compare._child``: a cold load for every model, and the peak
  memory is the kernel's own high-water mark (``getrusage`` ``ru_maxrss``), exact;
- :func:`run_in_process` runs it here: quicker to start, the encoder cache is emptied of the
  model afterwards, and the peak is sampled every 5 ms from ``/proc/self/statm`` (Linux), so
  a very short spike can be missed.

Both measure how far the peak rose above what the process used after its imports, before the
model was loaded: the model's weights plus the working memory of encoding.

Example:
    >>> import tempfile
    >>> from siglip_retriever.compare.measuring import EncodeJob
    >>> from siglip_retriever.compare.processes import run_in_process
    >>> from siglip_retriever.tiny import build_checkpoint
    >>> checkpoint = str(build_checkpoint(tempfile.mkdtemp()))
    >>> encoded = run_in_process(EncodeJob(checkpoint, "cpu", "auto", 8, [], [("en", ["a red circle"])]))
    >>> encoded.text_vectors[0].shape, encoded.peak_rss_bytes is None or encoded.peak_rss_bytes >= 0
    ((1, 32), True)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from siglip_retriever.compare.measuring import Encoded, EncodeJob, encode_job, import_runtime
from siglip_retriever.compare.memory import RssSampler, current_rss, max_rss
from siglip_retriever.errors import ModelLoadError

__all__ = ["child_entry", "run_in_process", "run_isolated"]


def run_isolated(job: EncodeJob, label: str) -> Encoded:
    """Run ``job`` in a fresh interpreter (``python -m siglip_retriever.compare._child``).

    A plain subprocess rather than multiprocessing: it never re-imports the caller's main
    module, so it works from scripts without a ``__main__`` guard, notebooks and the CLI alike.

    Raises:
        ModelLoadError: the process died, or failed to load the model.
        SiglipRetrieverError: whatever the child raised, raised again here.
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
    if not isinstance(outcome, Encoded):  # pragma: no cover - the child writes one or the other
        raise ModelLoadError(f"the process that ran {label} returned {type(outcome).__name__}")
    return outcome


def child_entry(job_file: str, result_file: str) -> int:
    """The child process: read the job, run it, write the result (or the error) back.

    Returns:
        The exit status, 0: an error goes back in the result file, not as a status.
    """
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


def _child_main(job: EncodeJob) -> Encoded:
    """The child process's work: the baseline after imports, then load and encode."""
    import_runtime(job.model)
    baseline = current_rss() or max_rss()

    def peak() -> int | None:
        highest = max_rss()
        return None if highest is None or baseline is None else max(0, highest - baseline)

    return encode_job(job, peak)


def run_in_process(job: EncodeJob) -> Encoded:
    """Run ``job`` in this process, sampling its resident memory.

    Models this process already holds stay loaded (other encoders share them); a model loaded
    only for the comparison is dropped afterwards. An already loaded model loads in no time:
    the child-process mode (the default) measures loading honestly.
    """
    import gc

    from siglip_retriever.encoding.loading import forget_models, loaded_models

    import_runtime(job.model)
    gc.collect()
    before = loaded_models()
    baseline = current_rss()
    with RssSampler() as sampler:
        encoded = encode_job(job, lambda: None)
    encoded.peak_rss_bytes = None if baseline is None else max(0, sampler.peak - baseline)
    forget_models(loaded_models() - before)
    gc.collect()
    return encoded
