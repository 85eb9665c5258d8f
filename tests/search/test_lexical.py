"""Exact words: BM25 over the pictures' words, the query's coverage, one index per store generation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from siglip_retriever import MultimodalStore
from siglip_retriever.search import lexical
from siglip_retriever.search.lexical import WordIndex, word_index
from tests.search.wordy import words

WORDS = [
    ("img-revenue", "Quarterly revenue 2026\nGrowth in every region"),
    ("img-umsatz", "Umsatz pro Quartal\nGewinn und Verlust"),
    ("img-long", "Revenue\n" + "\n".join(f"line {n} of the page" for n in range(30)) + "\nQuarterly notes"),
    ("img-cjk", "本季度营业收入增长"),
]


def test_coverage_is_the_share_of_the_query_said_together() -> None:
    index = WordIndex(WORDS)
    found = index.search("quarterly REVENUE")
    assert found["img-revenue"].coverage == 1.0
    # the long page says both words, 31 lines apart: only one of them counts
    assert 0.0 < found["img-long"].coverage < 1.0
    assert found["img-revenue"].score > found["img-long"].score  # BM25 ranks them the same way
    assert index.search("营业收入")["img-cjk"].coverage == 1.0
    assert "img-umsatz" not in found  # no word of the query


def test_a_word_no_picture_says_counts_as_a_rare_one() -> None:
    index = WordIndex(WORDS)
    half = index.search("umsatz xqzvbl")["img-umsatz"].coverage
    assert half == pytest.approx(0.5)
    assert index.search("xqzvbl") == {} and index.search("...") == {}


def test_the_index_keeps_each_picture_s_words() -> None:
    index = WordIndex(WORDS)
    assert len(index) == 4 and index.text("img-cjk") == "本季度营业收入增长" and index.text("img-x") is None


class FakeStore:
    """What word_index reads of a store, counting the reads of its words."""

    def __init__(self, sole_writer: bool = True) -> None:
        self.generation = 0
        self.sole_writer = sole_writer
        self.words = dict(WORDS)
        self.reads = 0

    def iter_words(self) -> Iterator[tuple[str, str]]:
        self.reads += 1
        return iter(self.words.items())

    def words_count(self) -> int:
        return len(self.words)


def test_one_index_per_generation_shared_by_threads() -> None:
    store = FakeStore()
    indexes: list[WordIndex] = []
    threads = [threading.Thread(target=lambda: indexes.append(word_index(store))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.reads == 1 and all(index is indexes[0] for index in indexes)
    store.words["img-new"] = "Hello"
    store.generation += 1
    assert "img-new" in word_index(store).search("hello") and store.reads == 2


def test_a_store_others_write_to_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeStore(sole_writer=False)
    word_index(store)
    word_index(store)
    assert store.reads == 1
    store.words["img-new"] = "Hello"  # another process wrote: the count changed
    assert "img-new" in word_index(store).ids and store.reads == 2
    monkeypatch.setattr(lexical, "SHARED_STORE_MAX_AGE", 0.0)  # and after a while in any case
    word_index(store)
    assert store.reads == 3


def test_a_store_s_writes_renew_its_index(tmp_path: Path, tiny_siglip_dir: Path) -> None:
    store = MultimodalStore(tmp_path / "db", model=str(tiny_siglip_dir))
    ids = store.add_images([Image.new("RGB", (32, 32), colour) for colour in ("red", "blue")])
    assert len(word_index(store)) == 0
    store.set_words(ids, [words(["Quarterly revenue"]), words(["Umsatz"])], source="ocr")
    index = word_index(store)
    assert set(index.search("revenue")) == {ids[0]} and word_index(store) is index
    store.delete([ids[0]])  # its words go with it
    assert word_index(store).search("revenue") == {}
    store.close()
