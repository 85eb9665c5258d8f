"""The offline walkthrough behind ``siglip-retriever demo``.

It writes a small set of generated pictures (coloured shapes the bundled ``demo`` model was
trained to recognise, drawn with a seed it never saw), indexes them into an embedded Chroma
store, asks for "a red circle" in every language the model knows, runs one image-to-image
search and one zero-shot classification, and prints what it found with SigLIP's probabilities.

Example:
    >>> import tempfile
    >>> from siglip_retriever.demo.walkthrough import run_demo
    >>> result = run_demo(tempfile.mkdtemp(), per_class=1, echo=lambda line: None)
    >>> result["queries"][0]["language"], result["queries"][0]["correct"]
    ('en', True)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGE_NAMES", "run_demo"]

LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "zh": "Chinese",
    "ar": "Arabic",
    "ru": "Russian",
}

HELD_OUT_SEED = 20231127
"""The pictures' seed: not one the model was trained on."""


def _class_of(path: str | None) -> str:
    """``red_circle`` from ``.../red_circle_003.png``."""
    return "_".join(Path(path or "").stem.split("_")[:2])


def run_demo(
    folder: str | os.PathLike[str],
    *,
    per_class: int = 2,
    shape: str = "circle",
    colour: str = "red",
    k: int = 3,
    echo: Callable[[str], Any] = print,
    device: str = "auto",
) -> dict[str, Any]:
    """Run the walkthrough in ``folder`` and return what it found (the ``--json`` schema).

    Returns:
        ``{"folder", "model", "index": IndexReport dict, "queries": [{"language", "query",
        "correct", "hits": [...]}], "similar": {...}, "classify": {...}, "seconds"}``.
    """
    from siglip_retriever.demo.captions import COLOURS, LANGUAGES, SHAPES, caption
    from siglip_retriever.demo.data import write_image_folder
    from siglip_retriever.search.retriever import Retriever
    from siglip_retriever.search.zero_shot import ZeroShotClassifier
    from siglip_retriever.store.store import MultimodalStore

    started = time.perf_counter()
    root = Path(folder).expanduser().resolve()
    images = root / "images"
    echo(f"Writing {per_class * len(SHAPES) * len(COLOURS)} pictures of coloured shapes to {images}")
    write_image_folder(images, per_class=per_class, seed=HELD_OUT_SEED)

    store = MultimodalStore(root / "store", model="demo", device=device)
    report = store.index_folder(images)
    echo(f"Indexed into an embedded Chroma store at {root / 'store'}: {report.summary()}")
    echo("")

    target = f"{colour}_{shape}"
    retriever = Retriever(store, k=k)
    queries = []
    echo(f"Text -> image: '{colour} {shape}' in every language (top {k}, SigLIP probability)")
    for lang in LANGUAGES:
        query = caption(shape, colour, lang)
        hits = retriever.text_to_images(query)
        correct = bool(hits) and _class_of(hits[0].uri) == target
        queries.append(
            {"language": lang, "query": query, "correct": correct, "hits": [h.to_dict() for h in hits]}
        )
        echo(f"  {LANGUAGE_NAMES.get(lang, lang):<8} {query}")
        for hit in hits:
            mark = "*" if _class_of(hit.uri) == target else " "
            echo(f"     {mark} {hit.probability or 0.0:6.3f}  {Path(hit.uri or '').name}")
    echo("")

    probe = images / f"blue_star_{0:03d}.png"
    similar = retriever.image_to_images(probe)
    echo(f"Image -> image: pictures most like {probe.name} (cosine similarity)")
    for hit in similar:
        echo(f"       {hit.similarity:6.3f}  {Path(hit.uri or '').name}")
    echo("")

    labels = [f"{c} {s}" for s in SHAPES for c in COLOURS[:3]]
    classifier = ZeroShotClassifier(labels, templates=["a {}"], encoder=store.encoder)
    picture = images / f"green_triangle_{0:03d}.png"
    result = classifier.classify([picture])[0]
    echo(f"Zero-shot: {picture.name} against {len(labels)} labels (independent probabilities)")
    for label, probability in result.ranked()[:4]:
        echo(f"       {probability:6.3f}  {label}")
    seconds = time.perf_counter() - started
    right = sum(bool(q["correct"]) for q in queries)
    echo("")
    echo(f"{right}/{len(queries)} languages found a {colour} {shape} first; done in {seconds:.1f}s")
    return {
        "folder": str(root),
        "model": store.model_name,
        "index": report.to_dict(),
        "queries": queries,
        "similar": {"query": str(probe), "hits": [h.to_dict() for h in similar]},
        "classify": result.to_dict(),
        "seconds": seconds,
    }
