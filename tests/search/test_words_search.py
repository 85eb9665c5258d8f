"""Searches that match what pictures say: one ranked list, why each hit matched, ``mode``, the
thresholds, filters, picks and cache on the fused list; and the figures of the issue on the
corpus (``tests/search/wordy.py``) with the demo model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.demo import write_image_folder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.search.diversity import DUPLICATES_KEY
from tests import documents
from tests.search.fusion_methods import build
from tests.search.wordy import NONSENSE, VISUAL, WORDY, says_all, words

SLIDES = {
    "revenue.png": ("Quarterly revenue 2026", "Growth in every region"),
    "umsatz.png": ("Umsatz pro Quartal", "Gewinn und Verlust"),
    "kreis.png": ("ein roter Kreis",),
}


@dataclass
class World:
    store: MultimodalStore
    ids: dict[str, str]  # file name -> entry id
    folder: Path

    def name(self, entry_id: str) -> str:
        return next(name for name, key in self.ids.items() if key == entry_id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo's shapes, three slides with words, and a smaller copy of the revenue slide."""
    root = tmp_path_factory.mktemp("words")
    folder = root / "pictures"
    write_image_folder(folder, per_class=1, seed=7)
    for seed, (name, lines) in enumerate(SLIDES.items()):
        documents.slide(lines, size=(480, 270), seed=seed).save(folder / name)
    with Image.open(folder / "revenue.png") as image:
        image.resize((240, 135)).save(folder / "revenue_copy.png")
    store = MultimodalStore(root / "db", model="demo")
    assert not store.index_folder(folder, ocr="off").failed
    ids = {Path(str(item.uri)).name: item.id for item in store.get() if item.uri}
    said = {**SLIDES, "revenue_copy.png": SLIDES["revenue.png"]}
    store.set_words([ids[name] for name in said], [words(lines) for lines in said.values()], source="ocr")
    yield World(store, ids, folder)
    store.close()


def names(world: World, hits: list) -> list[str]:  # type: ignore[type-arg]
    return [world.name(hit.id) for hit in hits]


def test_a_word_query_finds_what_says_it_and_says_why(world: World) -> None:
    hits = Retriever(world.store).search_text("UMSATZ", k=3)
    first = hits[0]
    assert world.name(first.id) == "umsatz.png" and first.matched == "says" and first.probability > 0.999
    assert first.words == ("Umsatz",) and first.says == "Umsatz pro Quartal\nGewinn und Verlust"
    assert first.to_dict()["words"] == ["Umsatz"] and first.to_dict()["matched"] == "says"
    assert first.result_metadata()["says"] == first.says and first.content().endswith(first.says)
    assert all(hit.matched in ("shows", "says", "both") for hit in hits)


def test_what_pictures_show_still_comes_first(world: World) -> None:
    hits = Retriever(world.store).search_text("a red circle", k=3)
    assert names(world, hits)[0] == "red_circle_000.png" and hits[0].matched == "shows"
    assert hits[0].says is None and hits[0].words == ()
    # words of another language that mean the query: matched by meaning, below the picture
    kreis = next(hit for hit in hits if world.name(hit.id) == "kreis.png")
    assert kreis.matched == "says" and kreis.words == () and kreis.probability > 0.5


def test_min_probability_keeps_its_meaning(world: World) -> None:
    retriever = Retriever(world.store)
    for nonsense in NONSENSE:
        assert retriever.search_text(nonsense, min_probability=0.5) == []
    hits = retriever.search_text("quarterly revenue", k=10, min_probability=0.5)
    said = {world.name(hit.id) for hit in hits if hit.matched in ("says", "both")}
    assert said == {"revenue.png", "revenue_copy.png"} and all(hit.probability >= 0.5 for hit in hits)


def test_mode_chooses_how_pictures_match(world: World) -> None:
    retriever = Retriever(world.store)
    visual = retriever.search_text("Umsatz", k=5, mode="visual")
    assert all(hit.matched is None and hit.says is None for hit in visual)
    assert "umsatz.png" not in names(world, visual)
    text = retriever.search_text("Umsatz", k=10, mode="text")
    assert set(names(world, text)) <= {*SLIDES, "revenue_copy.png"}  # pictures with words only
    assert names(world, text)[0] == "umsatz.png" and all(hit.matched == "says" for hit in text)
    assert retriever.search_text("Umsatz", k=5) == retriever.search_text("Umsatz", k=5, mode="hybrid")


def test_a_store_without_words_searches_by_look(tmp_path: Path) -> None:
    write_image_folder(tmp_path, per_class=1, seed=1, size=32)
    store = MultimodalStore.in_memory(model="demo")
    store.index_folder(tmp_path, ocr="off")
    hits = Retriever(store).search_text("a red circle", k=2)
    assert hits and all(hit.matched is None for hit in hits)
    assert Retriever(store).search_text("a red circle", k=2, mode="text") == []


def test_filters_picks_and_duplicates_apply_to_the_fused_list(world: World) -> None:
    retriever = Retriever(world.store)
    copy = retriever.search_text("quarterly revenue", k=2, where={"width": 240})
    assert names(world, copy)[0] == "revenue_copy.png" and copy[0].matched == "says"
    both = retriever.search_text("quarterly revenue", k=2)
    assert set(names(world, both)) == {"revenue.png", "revenue_copy.png"}
    one = retriever.search_text("quarterly revenue", k=2, collapse_duplicates=True)
    assert names(world, one)[0] in ("revenue.png", "revenue_copy.png")
    assert one[0].metadata[DUPLICATES_KEY] and names(world, one)[1] not in ("revenue.png", "revenue_copy.png")
    diverse = retriever.search_text("quarterly revenue", k=3, diverse=True, lambda_mult=0.3)
    assert len(diverse) == 3 and names(world, diverse)[0] in ("revenue.png", "revenue_copy.png")
    assert not {"revenue.png", "revenue_copy.png"} <= set(names(world, diverse)[:2])  # near-copies spread


def test_the_cache_answers_until_the_words_change(world: World) -> None:
    retriever = Retriever(world.store)
    first = retriever.search_text("Gewinn", k=2)
    assert retriever.search_text("Gewinn", k=2) == first and names(world, first)[0] == "umsatz.png"
    blue = world.ids["blue_square_000.png"]
    world.store.set_words([blue], [words(["Gewinn"])], source="ocr")
    try:
        assert set(names(world, retriever.search_text("Gewinn", k=2))) == {
            "umsatz.png",
            "blue_square_000.png",
        }
    finally:
        world.store.set_words([blue], [words([""])], source="ocr")  # an empty text deletes the words
    assert retriever.search_text("Gewinn", k=2) == first


def test_an_image_query_matches_pictures_by_their_words(world: World) -> None:
    retriever = Retriever(world.store)
    picture = world.folder / "red_circle_000.png"
    hits = retriever.search_image(picture, k=2, mode="text")
    assert names(world, hits)[0] == "kreis.png" and hits[0].matched == "says" and hits[0].words == ()
    assert hits[0].says == "ein roter Kreis" and hits[0].probability is not None
    assert retriever.search_image(picture, mode="text", min_probability=0.5) == hits[:1]
    stored = retriever.similar_to_stored(world.ids["red_circle_000.png"], k=2, mode="text")
    assert [hit.id for hit in stored] == [hit.id for hit in hits]
    with pytest.raises(ConfigurationError, match="mode='hybrid' applies to text queries"):
        retriever.search_image(picture, mode="hybrid")
    with pytest.raises(ConfigurationError, match="min_similarity applies to image-image"):
        retriever.search_image(picture, mode="text", min_similarity=0.5)


def test_a_mode_that_cannot_apply(world: World) -> None:
    retriever = Retriever(world.store)
    vector = retriever.text_vector("Umsatz")
    with pytest.raises(ConfigurationError, match="not to a bare vector"):
        retriever.by_vector(vector, query_kind=None, mode="text")
    with pytest.raises(ConfigurationError, match="applies to searches of images"):
        retriever.search_text("Umsatz", kind="text", mode="text")
    assert all(hit.matched is None for hit in retriever.search_text("Umsatz", kind="any"))
    # as a default, a mode is left out where it cannot apply (as thresholds are)
    default = Retriever(world.store, mode="hybrid")
    assert default.by_vector(vector, query_kind=None, k=1) and default.search_image(
        world.folder / "kreis.png"
    )
    assert default.text_to_texts("Umsatz") == []


def test_a_clip_store_searches_by_look_only(tiny_clip_dir: Path) -> None:
    store = MultimodalStore.in_memory(model=str(tiny_clip_dir))
    ids = store.add_images([Image.new("RGB", (32, 32), "red")])
    store.set_words(ids, [words(["Umsatz"])], source="ocr")
    assert Retriever(store).search_text("Umsatz")[0].matched is None
    with pytest.raises(ConfigurationError, match="mode needs a sigmoid"):
        Retriever(store).search_text("Umsatz", mode="text")


def test_threads_search_the_same_words(world: World) -> None:
    retriever = Retriever(world.store, cache_size=0)
    expected = retriever.search_text("Umsatz pro Quartal", k=3)
    results: list[list[str]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append([h.id for h in retriever.search_text("Umsatz pro Quartal", k=3)])
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[hit.id for hit in expected]] * 6


# -- the figures of the issue, on the whole corpus ------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalStore]:
    store = build(tmp_path_factory.mktemp("corpus"))
    yield store
    store.close()


def _file(hit: object) -> str:
    return Path(str(hit.uri)).name  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_word_query_finds_its_picture_first(corpus: MultimodalStore) -> None:
    retriever = Retriever(corpus)
    texts = {f"says_{item.name}.png": item.text for item in WORDY}
    queries = [query for item in WORDY for query in item.queries]
    right = sum(says_all(texts.get(_file(retriever.search_text(q, k=1)[0]), ""), q) for q in queries)
    above_half = sum(
        bool(hits := retriever.search_text(q, k=1, min_probability=0.5))
        and says_all(texts.get(_file(hits[0]), ""), q)
        for q in queries
    )
    assert right / len(queries) >= 0.9 and above_half / len(queries) >= 0.9, (right, above_half, len(queries))
    scanned = retriever.search_text("aquarium", k=1)[0]  # a word only a scanned page carries
    assert _file(scanned) == "says_scanned_p2.png" and scanned.words == ("aquarium",)


@pytest.mark.slow
def test_pictures_that_say_things_do_not_crowd_out_what_is_shown(corpus: MultimodalStore) -> None:
    retriever = Retriever(corpus)
    for query, cls in VISUAL[:5]:
        assert all(_file(hit).startswith(cls) for hit in retriever.search_text(query, k=2)), query
    for nonsense in NONSENSE:
        assert retriever.search_text(nonsense, min_probability=0.5) == []
