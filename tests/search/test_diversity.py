"""Diverse results (search/diversity.py and the Retriever's options): MMR picks as langchain_core's,
lambda_mult=1 as the plain search, true scores, thresholds, validation, and duplicate collapsing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.vectorstores.utils import maximal_marginal_relevance as langchain_mmr

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from siglip_retriever.errors import ConfigurationError
from siglip_retriever.search.diversity import (
    DUPLICATES_KEY,
    Candidates,
    collapse_duplicates,
    maximal_marginal_relevance,
    pick,
)
from siglip_retriever.search.hits import SearchHit
from siglip_retriever.search.options import SearchOptions
from siglip_retriever.store.metadata import PHASH
from tests.copies import store_copies
from tests.helpers import random_pictures


@pytest.fixture
def store(tiny_encoder: SiglipEncoder, tmp_path: Path) -> MultimodalStore:
    """30 random pictures and 12 texts."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection=f"diverse_{tmp_path.name}")
    store.add_images(random_pictures(30, seed=3), metadatas=[{"n": n, "half": n % 2} for n in range(30)])
    store.add_texts([f"caption number {n} of a picture" for n in range(12)])
    return store


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lambda_mult", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_mmr_picks_as_langchain_core_does(seed: int, lambda_mult: float) -> None:
    rng = np.random.default_rng(seed)
    candidates = rng.normal(size=(25, 16)).astype(np.float32)
    candidates[7] = candidates[3]  # an exact tie: the lower index goes first in both
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    query = rng.normal(size=16).astype(np.float32)
    for k in (1, 4, 10, 25, 40):
        expected = langchain_mmr(query, candidates.tolist(), lambda_mult=lambda_mult, k=k)
        assert maximal_marginal_relevance(query, candidates, k=k, lambda_mult=lambda_mult) == expected


def test_mmr_of_nothing_is_nothing() -> None:
    assert maximal_marginal_relevance([1.0, 0.0], np.zeros((0, 2)), k=3) == []


def test_a_diverse_search_picks_what_langchain_core_picks_from_the_same_candidates(
    store: MultimodalStore,
) -> None:
    retriever = Retriever(store, cache_size=0)
    query = retriever.text_vector("a picture")
    for fetch_k, lambda_mult in [(20, 0.5), (12, 0.2), (30, 0.9), (6, 0.0)]:
        candidates = store.query(query, k=fetch_k, kind="image", include_vectors=True)
        vectors = [item.vector.tolist() for item, _ in candidates]  # type: ignore[union-attr]
        picks = langchain_mmr(query, vectors, lambda_mult=lambda_mult, k=5)
        hits = retriever.text_to_images(
            "a picture", k=5, diverse=True, fetch_k=fetch_k, lambda_mult=lambda_mult
        )
        assert [hit.id for hit in hits] == [candidates[n][0].id for n in picks]
        assert [hit.rank for hit in hits] == [1, 2, 3, 4, 5]


def test_lambda_mult_1_is_the_plain_search(store: MultimodalStore) -> None:
    retriever = Retriever(store)
    for k in (1, 5, 12):
        plain = retriever.text_to_images("a picture", k=k)
        assert retriever.text_to_images("a picture", k=k, diverse=True, lambda_mult=1.0) == plain
    texts = retriever.text_to_texts("caption", k=4)
    assert retriever.text_to_texts("caption", k=4, diverse=True, lambda_mult=1, fetch_k=12) == texts


def test_diverse_hits_keep_their_true_scores(store: MultimodalStore) -> None:
    retriever = Retriever(store)
    plain = {hit.id: hit for hit in retriever.text_to_images("a picture", k=30)}
    diverse = retriever.text_to_images("a picture", k=6, diverse=True, lambda_mult=0.1)
    assert [hit.id for hit in diverse] != [hit.id for hit in plain.values()][:6]  # it did change them
    for hit in diverse:
        assert hit.similarity == plain[hit.id].similarity
        assert hit.probability == plain[hit.id].probability


def test_thresholds_apply_before_the_picks(store: MultimodalStore) -> None:
    retriever = Retriever(store)
    plain = retriever.text_to_images("a picture", k=30)
    cut = plain[4].probability
    assert cut is not None
    hits = retriever.text_to_images("a picture", k=10, min_probability=cut, diverse=True, lambda_mult=0.0)
    assert {hit.id for hit in hits} <= {hit.id for hit in plain[:5]}
    assert all(hit.probability is not None and hit.probability >= cut for hit in hits)


def test_filters_and_every_direction_take_the_options(store: MultimodalStore) -> None:
    retriever = Retriever(store)
    hits = retriever.text_to_images("x", k=4, where={"half": 1}, diverse=True)
    assert len(hits) == 4 and all(hit.metadata["half"] == 1 for hit in hits)
    picture = random_pictures(1, seed=99)[0]
    assert len(retriever.image_to_images(picture, k=3, diverse=True, fetch_k=10)) == 3
    assert all(hit.kind == "text" for hit in retriever.image_to_texts(picture, k=3, diverse=True))
    first = retriever.text_to_images("x", k=1)[0].id
    similar = retriever.similar_to_stored(first, k=5, diverse=True, fetch_k=5)
    assert len(similar) == 5 and first not in {hit.id for hit in similar}
    assert len(retriever.search("x", k=2, diverse=True)) == 2


def test_the_retriever_s_defaults_and_the_cache(store: MultimodalStore) -> None:
    retriever = Retriever(store, k=5, diverse=True, fetch_k=25, lambda_mult=0.0)
    assert retriever.options == SearchOptions(k=5, diverse=True, fetch_k=25, lambda_mult=0.0)
    diverse = retriever.text_to_images("a picture")
    assert diverse == Retriever(store, k=5).text_to_images(
        "a picture", diverse=True, fetch_k=25, lambda_mult=0
    )
    plain = retriever.text_to_images("a picture", diverse=False)
    assert plain == Retriever(store, k=5).text_to_images("a picture")
    assert plain != diverse  # the cache keeps them apart
    assert retriever.text_to_images("a picture") == diverse


def test_bad_options_are_clear_errors(store: MultimodalStore) -> None:
    retriever = Retriever(store)
    with pytest.raises(ConfigurationError, match=r"fetch_k \(3\) must be at least k \(5\)"):
        retriever.text_to_images("x", k=5, diverse=True, fetch_k=3)
    with pytest.raises(ConfigurationError, match="lambda_mult must be a number between 0 and 1"):
        retriever.text_to_images("x", diverse=True, lambda_mult=1.5)
    with pytest.raises(ConfigurationError, match="add diverse=True"):
        retriever.text_to_images("x", fetch_k=30)
    with pytest.raises(ConfigurationError, match="fetch_k must be a positive integer"):
        Retriever(store, fetch_k=0)
    with pytest.raises(ConfigurationError, match="diverse must be True or False"):
        retriever.text_to_images("x", diverse="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown search options"):
        retriever.text_to_images("x", diversity=True)  # type: ignore[call-arg]


def test_fetch_k_defaults_to_20_or_k() -> None:
    assert SearchOptions(diverse=True, k=4).candidates() == 20
    assert SearchOptions(diverse=True, k=50).candidates() == 50
    assert SearchOptions(k=7).candidates() == 7


# -- duplicates --------------------------------------------------------------------------------


def _hit(name: str, code: str | None, kind: str = "image") -> SearchHit:
    return SearchHit(name, kind, None, None, {PHASH: code} if code else {})


def test_collapse_groups_by_perceptual_hash() -> None:
    hits = [
        _hit("a", "ffff0000ffff0000"),
        _hit("b", "0123456789abcdef"),
        _hit("a2", "ffff0000ffff00ff"),  # 8 bits from a
        _hit("plain", None),
        _hit("plain2", None),
        _hit("b2", "0123456789abcde0"),  # 2 bits from b
        _hit("far", "ffff00000000ff00"),  # 24 bits from a
        _hit("bad", "not a hash"),
        _hit("text", "ffff0000ffff0000", kind="text"),
    ]
    assert collapse_duplicates(hits) == [
        (0, ["a2"]),
        (1, ["b2"]),
        (3, []),
        (4, []),
        (6, []),
        (7, []),
        (8, []),
    ]


@pytest.fixture
def duplicates_store(tiny_encoder: SiglipEncoder, tmp_path: Path) -> tuple[MultimodalStore, list[set[str]]]:
    """8 pictures, each stored with 2 resized copies, and 4 pictures without a recorded hash."""
    store = MultimodalStore.in_memory(encoder=tiny_encoder, collection=f"dups_{tmp_path.name}")
    return store, store_copies(store)


def test_collapse_duplicates_returns_one_hit_per_group(
    duplicates_store: tuple[MultimodalStore, list[set[str]]],
) -> None:
    store, groups = duplicates_store
    group_of = {key: n for n, group in enumerate(groups) for key in group}
    retriever = Retriever(store)
    hits = retriever.text_to_images("a picture", k=10, collapse_duplicates=True)
    assert len(hits) == 10  # more candidates were read: 28 entries, 12 distinct pictures
    assert [hit.rank for hit in hits] == list(range(1, 11))
    seen = [group_of.get(hit.id, hit.id) for hit in hits]
    assert len(set(seen)) == len(seen)  # one hit per group
    plain = {hit.id: hit for hit in retriever.text_to_images("a picture", k=28)}
    for hit in hits:
        if hit.id in group_of:
            group = groups[group_of[hit.id]]
            assert {hit.id, *hit.metadata[DUPLICATES_KEY]} == group
            best = max(group, key=lambda key: plain[key].similarity)
            assert hit.id == best  # the group's best hit is kept
        else:
            assert hit.metadata[DUPLICATES_KEY] == []
        assert hit.similarity == plain[hit.id].similarity  # its own, true score
    assert all(DUPLICATES_KEY not in hit.metadata for hit in plain.values())


def test_collapse_with_mmr_and_defaults(duplicates_store: tuple[MultimodalStore, list[set[str]]]) -> None:
    store, groups = duplicates_store
    group_of = {key: n for n, group in enumerate(groups) for key in group}
    retriever = Retriever(store, collapse_duplicates=True)
    hits = retriever.text_to_images("a picture", k=6, diverse=True, fetch_k=8, lambda_mult=0.3)
    seen = [group_of.get(hit.id, hit.id) for hit in hits]
    assert len(hits) == 6 and len(set(seen)) == 6
    everything = retriever.text_to_images("a picture", k=30)
    assert len(everything) == 12  # what the store has: 8 groups and 4 pictures without a hash


def test_collapse_reads_more_candidates_until_k_groups() -> None:
    hits = [_hit(f"copy-{n}", "ffff0000ffff0000") for n in range(60)]
    hits += [_hit(f"other-{n}", None) for n in range(40)]
    reads: list[int] = []

    def fetch(n: int) -> Candidates:
        reads.append(n)
        return hits[:n], [None] * min(n, len(hits)), n >= len(hits)

    picked = pick(fetch, [1.0], SearchOptions(k=3, collapse_duplicates=True))
    assert reads == [32, 128]
    assert [hit.id for hit in picked] == ["copy-0", "other-0", "other-1"]
    assert picked[0].metadata[DUPLICATES_KEY] == [f"copy-{n}" for n in range(1, 60)]
    reads.clear()
    assert len(pick(fetch, [1.0], SearchOptions(k=3))) == 3 and reads == [3]
