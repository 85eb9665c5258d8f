"""What a picture shows and says, combined into one probability, and why it matched."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from siglip_retriever.search import fusion
from siglip_retriever.search.fusion import Evidence, matched, reference_vectors, says_probability, standing
from tests.helpers import RecordingEncoder


def test_either_side_makes_a_match() -> None:
    only_shows, only_says = Evidence(0.9, 0.0, 0.0), Evidence(0.0, 0.9, 0.0)
    assert only_shows.probability == pytest.approx(0.9) and only_says.probability == pytest.approx(0.9)
    both = Evidence(0.9, 0.9, 0.0)
    assert (
        both.probability == pytest.approx(0.99) and both.strength > only_shows.strength
    )  # agreement adds up
    assert Evidence(0.0, 0.0, 0.0).probability == 0.0


def test_all_the_words_say_the_query_part_of_them_less() -> None:
    every = says_probability(1.0, None)
    assert every == fusion.WORDS_CEILING and every > 0.999
    assert says_probability(0.5, None) == pytest.approx(every * 0.25)
    assert says_probability(0.0, None) == 0.0


def test_meaning_counts_only_far_above_unrelated_text() -> None:
    assert says_probability(0.0, fusion.MEANING_MIDPOINT) == pytest.approx(fusion.MEANING_CEILING / 2)
    assert says_probability(0.0, 1.0) < 0.01  # as close as unrelated texts come
    assert says_probability(0.0, 30.0) == pytest.approx(fusion.MEANING_CEILING)  # never certain
    assert says_probability(0.0, math.nan) == 0.0


def test_hits_whose_probabilities_round_to_one_keep_their_order() -> None:
    surer, sure = Evidence(1.0, 0.0, 0.0, 40.0), Evidence(1.0, 0.0, 0.0, 38.0)
    assert surer.probability == sure.probability == 1.0 and surer.strength > sure.strength
    assert Evidence(0.5, 1.0, 0.0).strength == math.inf


@pytest.mark.parametrize(
    ("shows", "says", "expected"),
    [
        (0.9, 0.6, "both"),
        (0.5, 0.5, "both"),
        (0.9, 0.2, "shows"),
        (0.1, 0.7, "says"),
        (0.2, 0.3, "says"),
        (0.3, 0.2, "shows"),
        (0.0, 0.0, "shows"),
    ],
)
def test_matched_names_the_sides_that_count(shows: float, says: float, expected: str) -> None:
    assert matched(shows, says) == expected
    assert Evidence(shows, says, 0.0).matched == expected


def test_standing_is_in_standard_deviations_of_unrelated_text() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]])
    query = np.array([1.0, 0.0])
    background = reference @ query
    z = standing([background.mean() + 2 * background.std()], query, reference)
    assert z[0] == pytest.approx(2.0)
    flat = standing([0.55], query, np.array([[0.5, 0.0], [0.5, 0.0]]))  # a cohort that does not vary
    assert flat[0] == pytest.approx(1.0)  # its spread counts as 0.05


def test_the_reference_texts_are_encoded_once_per_encoder(tiny_siglip_dir: Path) -> None:
    encoder = RecordingEncoder(str(tiny_siglip_dir))
    first = reference_vectors(encoder)
    assert reference_vectors(encoder) is first and first.shape == (len(fusion.REFERENCE_TEXTS), encoder.dim)
    assert [(kind, count) for kind, count, *_ in encoder.calls] == [("texts", len(fusion.REFERENCE_TEXTS))]
