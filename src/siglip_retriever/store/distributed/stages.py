"""The work Ray runs: hash files, decode and preprocess them (tasks), embed them (actors).

Each function takes and returns a Ray Data batch in numpy format (a dict of column arrays), so it
can be called, and tested, without Ray. Failures are values, not exceptions: one bad file gives
its reason in the ``failure`` column and never stops the dataset.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> from pathlib import Path
    >>> from siglip_retriever.store.distributed.stages import hash_files
    >>> empty = Path(tempfile.mkdtemp()) / "empty.jpg"
    >>> _ = empty.write_bytes(b"")
    >>> hash_files({"row": np.array([0]), "path": np.array([str(empty)])})["failure"].tolist()
    ['empty file (zero bytes)']
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siglip_retriever.errors import ImageLoadError
from siglip_retriever.store.facts import prepare_picture
from siglip_retriever.store.plan import hash_bytes, read_and_hash

if TYPE_CHECKING:
    from siglip_retriever.encoding.preparing import ImagePreparer

__all__ = ["EmbedWorker", "hash_files", "prepare_files"]

Batch = dict[str, Any]


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def _read(batch: Batch, n: int, filesystem: Any) -> tuple[bytes, str, str]:
    """Row ``n``'s bytes and content id, or ``(b"", "", reason)``: the local file at its ``path``,
    or the file at ``path`` on ``filesystem``."""
    path = str(batch["path"][n])
    if filesystem is None:
        return read_and_hash(Path(path))
    from siglip_retriever.store.distributed.filesystems import read_bytes

    try:
        data = read_bytes(filesystem, path)
    except OSError as exc:
        return b"", "", f"cannot read file: {exc.strerror or exc}"
    key, failure = hash_bytes(data)
    return (data, key, "") if key else (b"", "", failure)


def hash_files(batch: Batch, filesystem: Any = None) -> Batch:
    """Read each file and give its content id (``key``), or why it cannot be read (``failure``).

    Files are read at column ``path``: local paths, or, with a pyarrow ``filesystem``, paths on it.
    """
    keys: list[str] = []
    failures: list[str] = []
    for n in range(len(batch["path"])):
        _data, key, failure = _read(batch, n, filesystem)
        keys.append(key)
        failures.append(failure)
    return {"row": batch["row"], "key": _strings(keys), "failure": _strings(failures)}


def prepare_files(batch: Batch, preparer: ImagePreparer, filesystem: Any = None) -> Batch:
    """Decode and preprocess each file for the model, as ``SiglipEncoder.prepare_image`` does, and
    give the picture's facts from the same decoding (``width``, ``height``, ``phash``, ``taken``:
    ``""`` when unknown).

    ``prepared`` holds the pickled :class:`~siglip_retriever.encoding.encoder.PreparedImage` (empty on
    failure). A file whose content no longer matches the ``key`` it was planned with (it changed
    since it was hashed) fails with that reason rather than storing a vector under a wrong id.
    Files are read as :func:`hash_files` reads them.
    """
    prepared: list[bytes] = []
    widths: list[int] = []
    heights: list[int] = []
    phashes: list[str] = []
    takens: list[str] = []
    failures: list[str] = []
    for n, key in enumerate(batch["key"]):
        data, now, failure = _read(batch, n, filesystem)
        picture = facts = None
        if not failure and now != key:
            failure = "file changed while it was being indexed; index again"
        if not failure:
            try:
                picture, facts = prepare_picture(preparer, data)
            except ImageLoadError as exc:
                failure = exc.reason
        prepared.append(pickle.dumps(picture, protocol=pickle.HIGHEST_PROTOCOL) if picture else b"")
        widths.append(picture.width if picture else 0)
        heights.append(picture.height if picture else 0)
        phashes.append(facts.phash or "" if facts else "")
        takens.append(facts.taken or "" if facts else "")
        failures.append(failure)
    return {
        "row": batch["row"],
        "prepared": np.array(prepared, dtype=object),
        "width": np.array(widths, dtype=np.int64),
        "height": np.array(heights, dtype=np.int64),
        "phash": _strings(phashes),
        "taken": _strings(takens),
        "failure": _strings(failures),
    }


class EmbedWorker:
    """One model per Ray actor: embeds prepared pictures, batch after batch.

    Args:
        model: what ``SiglipEncoder`` loads (a checkpoint directory that every node can read, a
            preset or a hub id).
        device: ``"cpu"`` or ``"cuda"``.
        dtype: as for ``SiglipEncoder`` (``"auto"``: float16 on a GPU, float32 on a CPU).
        batch_size: pictures per forward pass.
        threads: torch threads on a CPU (Ray gives each actor as many as it has CPUs).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> from PIL import Image
        >>> from siglip_retriever import SiglipEncoder
        >>> from siglip_retriever.store.distributed.stages import EmbedWorker, hash_files, prepare_files
        >>> from siglip_retriever.tiny import build_checkpoint
        >>> model = str(build_checkpoint(tempfile.mkdtemp()))
        >>> path = Path(tempfile.mkdtemp()) / "red.png"
        >>> Image.new("RGB", (20, 10), "red").save(path)
        >>> rows = {"row": np.array([0]), "path": np.array([str(path)])}
        >>> rows["key"] = hash_files(rows)["key"]
        >>> prepared = prepare_files(rows, SiglipEncoder(model).image_preparer())
        >>> EmbedWorker(model, device="cpu")(prepared)["vector"].shape
        (1, 32)
    """

    def __init__(
        self, model: str, *, device: str, dtype: str = "auto", batch_size: int = 32, threads: int = 0
    ) -> None:
        from siglip_retriever.encoding.encoder import SiglipEncoder

        if threads > 0 and device == "cpu":
            import torch

            torch.set_num_threads(threads)
        self.encoder = SiglipEncoder(model, device=device, dtype=dtype, batch_size=batch_size, num_workers=0)

    def __call__(self, batch: Batch) -> Batch:
        """Embed the batch's prepared pictures; rows that failed upstream keep a zero vector. The
        pictures' facts pass through."""
        failures = [str(f) for f in batch["failure"]]
        good = [n for n, failure in enumerate(failures) if not failure]
        vectors = np.zeros((len(failures), self.encoder.dim), dtype=np.float32)
        if good:
            pictures = [pickle.loads(batch["prepared"][n]) for n in good]
            vectors[good] = self.encoder.encode_images(pictures)
        return {
            "row": batch["row"],
            "vector": vectors,
            "width": batch["width"],
            "height": batch["height"],
            "phash": batch["phash"],
            "taken": batch["taken"],
            "failure": _strings(failures),
        }
