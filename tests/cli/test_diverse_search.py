"""Diverse results in the search commands (cli/search.py, cli/options.py): ``search --diverse``
(``--fetch-k``, ``--lambda-mult``) gives the search layer's picks, and ``--collapse-duplicates``
one hit per group of copies, listed under ``metadata.duplicates`` in the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.encoding.encoder import SiglipEncoder
from tests.copies import smooth_picture, store_copies
from tests.helpers import run_cli


@pytest.fixture
def copies(
    tiny_siglip_dir: Path, tiny_encoder: SiglipEncoder, tmp_path: Path
) -> tuple[list[str], dict[str, int]]:
    """Global options for an embedded store of 8 pictures with 2 copies each (and 4 without a
    hash), and each id's group."""
    with MultimodalStore(tmp_path / "db", encoder=tiny_encoder) as store:
        groups = store_copies(store)
    options = ["--model", str(tiny_siglip_dir), "--db", str(tmp_path / "db"), "--device", "cpu"]
    return options, {key: n for n, group in enumerate(groups) for key in group}


def _ids(*args: str) -> list[str]:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return [hit["id"] for hit in json.loads(result.stdout)["hits"]]


def test_search_diverse_gives_the_search_layer_s_picks(
    copies: tuple[list[str], dict[str, int]], tiny_encoder: SiglipEncoder, tmp_path: Path
) -> None:
    options, _ = copies
    diverse = _ids(
        *options, "search", "a picture", "-k", "5", "--diverse", "--fetch-k", "15", "--lambda-mult", "0"
    )
    plain = _ids(*options, "search", "a picture", "-k", "5")
    assert _ids(*options, "search", "a picture", "-k", "5", "--diverse", "--lambda-mult", "1") == plain
    assert len(diverse) == 5 and diverse != plain
    with MultimodalStore(tmp_path / "db", encoder=tiny_encoder) as store:
        retriever = Retriever(store)
        expected = retriever.text_to_images("a picture", k=5, diverse=True, fetch_k=15, lambda_mult=0.0)
        assert diverse == [hit.id for hit in expected]
        smooth_picture(3).save(tmp_path / "query.png")
        similar = retriever.image_to_images(tmp_path / "query.png", k=4, diverse=True, lambda_mult=0.2)
    assert _ids(
        *options, "similar", str(tmp_path / "query.png"), "-k", "4", "--diverse", "--lambda-mult", "0.2"
    ) == [hit.id for hit in similar]
    table = run_cli(*options, "search", "a picture", "-k", "3", "--diverse")
    assert table.exit_code == 0 and len(table.stdout.strip().splitlines()) == 4


def test_search_collapse_duplicates(copies: tuple[list[str], dict[str, int]]) -> None:
    options, group_of = copies
    result = run_cli(*options, "search", "a picture", "-k", "10", "--collapse-duplicates", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 10
    assert len({group_of.get(hit["id"], hit["id"]) for hit in hits}) == 10
    for hit in hits:
        listed = hit["metadata"]["duplicates"]
        assert all(group_of[key] == group_of[hit["id"]] for key in listed)
    copies_listed = sum(len(hit["metadata"]["duplicates"]) for hit in hits)
    assert copies_listed == sum(1 for hit in hits if hit["id"] in group_of) * 2  # every copy found
    plain = _ids(*options, "search", "a picture", "-k", "10")
    assert len({group_of.get(key, key) for key in plain}) < 10  # without it, copies crowd in
    table = run_cli(*options, "search", "a picture", "-k", "10", "--collapse-duplicates")
    assert table.exit_code == 0, table.output
    with_two = sum(1 for hit in hits if len(hit["metadata"]["duplicates"]) == 2)
    assert with_two and table.stdout.count("(+2 copies)") == with_two


def test_diversity_option_errors(copies: tuple[list[str], dict[str, int]]) -> None:
    options, _ = copies
    alone = run_cli(*options, "search", "a picture", "--fetch-k", "30")
    assert alone.exit_code == 2 and "add diverse=True" in alone.output
    small = run_cli(*options, "search", "a picture", "-k", "5", "--diverse", "--fetch-k", "3")
    assert small.exit_code == 2 and "fetch_k (3) must be at least k (5)" in small.output
    wide = run_cli(*options, "search", "a picture", "--diverse", "--lambda-mult", "2")
    assert wide.exit_code == 2 and "lambda_mult must be a number between 0 and 1, not 2.0" in wide.output
