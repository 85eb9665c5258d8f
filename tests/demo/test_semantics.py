"""Answers that mean something: store, retriever and zero-shot on the trained demo model.

The bundled ``demo`` checkpoint was trained here on generated coloured shapes with captions in
seven languages; these tests use pictures drawn with a seed it never saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from siglip_retriever import MultimodalStore, Retriever, ZeroShotClassifier
from siglip_retriever.demo.data import COLOURS, LANGUAGES, SHAPES, caption, write_image_folder

HELD_OUT_SEED = 777


def _class(path: str | None) -> str:
    return "_".join(Path(path or "").stem.split("_")[:2])


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[MultimodalStore, Path]:
    root = tmp_path_factory.mktemp("demo")
    write_image_folder(root / "images", per_class=2, seed=HELD_OUT_SEED)
    store = MultimodalStore(root / "db", model="demo", device="cpu")
    report = store.index_folder(root / "images")
    assert len(report.added) == 2 * len(SHAPES) * len(COLOURS)
    return store, root / "images"


def test_french_query_for_a_red_circle_finds_red_circles_first(
    demo_store: tuple[MultimodalStore, Path],
) -> None:
    store, _ = demo_store
    hits = Retriever(store, k=2).text_to_images("un cercle rouge")
    assert [_class(h.uri) for h in hits] == ["red_circle", "red_circle"]
    assert hits[0].probability is not None
    assert hits[0].probability > 0.5


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_finds_the_right_class(demo_store: tuple[MultimodalStore, Path], lang: str) -> None:
    store, _ = demo_store
    retriever = Retriever(store, k=1)
    wrong = []
    for shape in SHAPES:
        for colour in COLOURS:
            query = caption(shape, colour, lang)
            top = retriever.text_to_images(query)[0]
            if _class(top.uri) != f"{colour}_{shape}":
                wrong.append((query, _class(top.uri)))
    assert len(wrong) <= 2, wrong  # at least 22 of 24 classes right in every language


def test_min_probability_says_no_relevant_image(demo_store: tuple[MultimodalStore, Path]) -> None:
    store, images = demo_store
    retriever = Retriever(store, k=5, min_probability=0.5)
    hits = retriever.text_to_images(caption("star", "blue", "de"))
    assert hits
    assert all(_class(h.uri) == "blue_star" for h in hits)
    # a store without blue stars: the nearest pictures exist, but none is relevant
    partial = MultimodalStore.in_memory(encoder=store.encoder)
    partial.add_images(sorted(images.glob("red_circle_*.png")) + sorted(images.glob("green_square_*.png")))
    assert len(Retriever(partial, k=2).text_to_images("a blue star")) == 2
    assert Retriever(partial, k=2, min_probability=0.5).text_to_images("a blue star") == []


def test_image_to_images_finds_the_same_class(demo_store: tuple[MultimodalStore, Path]) -> None:
    store, images = demo_store
    query = images / "green_triangle_000.png"
    hits = Retriever(store, k=1).image_to_images(query)
    assert _class(hits[0].uri) == "green_triangle"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_zero_shot_picks_the_right_label_in_every_language(
    demo_store: tuple[MultimodalStore, Path], lang: str
) -> None:
    store, images = demo_store
    labels = {f"{c}_{s}": [caption(s, c, lang)] for s in SHAPES for c in COLOURS}
    classifier = ZeroShotClassifier(labels, templates=["{}"], encoder=store.encoder)
    pictures = sorted(images.glob("*_000.png"))
    results = classifier.classify(pictures)
    right = sum(r.top[0] == _class(str(p)) for r, p in zip(results, pictures, strict=True))
    assert right >= 22, f"{right}/24 right in {lang}"
    assert all(r.score_kind == "sigmoid" for r in results)
    # independent probabilities: two names of the right class both match (sum near 2), and
    # labels that all miss stay low together (sum near 0) instead of being forced to sum to 1
    picture = images / "red_circle_000.png"
    both = ZeroShotClassifier(
        {"a": [caption("circle", "red", lang)], "b": [caption("circle", "red", "en", 1)]},
        templates=["{}"],
        encoder=store.encoder,
    ).classify([picture])[0]
    assert min(both.probabilities.values()) > 0.5
    assert sum(both.probabilities.values()) > 1.0
    misses = ZeroShotClassifier(
        [caption("star", "blue", lang), caption("square", "green", lang)],
        templates=["{}"],
        encoder=store.encoder,
    ).classify([picture])[0]
    assert sum(misses.probabilities.values()) < 0.5
