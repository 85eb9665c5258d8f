"""Recall@k and zero-shot accuracy (compare/metrics.py) against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from siglip_retriever.compare.metrics import (
    image_to_text_ranks,
    ranks_of_relevant,
    recall_at_k,
    retrieval_scores,
    text_to_image_ranks,
    top1_accuracy,
    zero_shot_scores,
)
from siglip_retriever.errors import ConfigurationError

# 3 captions x 3 images; caption i belongs to image i.
#   caption 0: own image scores 0.9, the best        -> rank 0
#   caption 1: own 0.3, beaten by 0.8 and 0.6        -> rank 2
#   caption 2: own 0.4, beaten by 0.7                -> rank 1
T2I = np.array(
    [
        [0.9, 0.5, 0.1],
        [0.8, 0.3, 0.6],
        [0.2, 0.7, 0.4],
    ]
)


def test_text_to_image_ranks_and_recall_by_hand() -> None:
    ranks = text_to_image_ranks(T2I, [0, 1, 2])
    assert ranks.tolist() == [0, 2, 1]
    assert recall_at_k(ranks, (1, 2, 3)) == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3), 3: 1.0}
    # the same matrix with the captions pointing elsewhere: caption 1 -> image 0 is its best
    assert text_to_image_ranks(T2I, [2, 0, 1]).tolist() == [2, 0, 0]


def test_ties_count_against_the_query() -> None:
    # two images with the same score: neither caption can be right at rank 1
    tied = np.array([[0.5, 0.5, 0.1], [0.5, 0.5, 0.1]])
    assert text_to_image_ranks(tied, [0, 1]).tolist() == [1, 1]
    assert top1_accuracy(np.array([[0.5, 0.5]]), [0]) == 0.0


def test_image_to_text_counts_any_own_caption() -> None:
    # 3 images x 4 captions; captions 0, 1 belong to image 0, captions 2, 3 to image 1, none to image 2
    #   image 0: own captions 0.6 and 0.1; the best (0.6) is beaten by caption 2 (0.7)  -> rank 1
    #   image 1: own 0.3 and 0.2; the best (0.3) is beaten by caption 0 (0.9)          -> rank 1
    #   image 2: no caption, left out
    similarity = np.array(
        [
            [0.1, 0.6, 0.7, 0.2],
            [0.9, 0.1, 0.3, 0.2],
            [0.5, 0.5, 0.5, 0.5],
        ]
    )
    ranks, images = image_to_text_ranks(similarity, [0, 0, 1, 1])
    assert ranks.tolist() == [1, 1]
    assert images.tolist() == [0, 1]
    assert recall_at_k(ranks, (1, 2)) == {1: 0.0, 2: 1.0}
    # image 0's second caption moves to the top: found at rank 0
    similarity[0, 1] = 0.95
    assert image_to_text_ranks(similarity, [0, 0, 1, 1])[0].tolist() == [0, 1]


def test_ranks_of_relevant_with_several_right_answers() -> None:
    similarity = [[0.2, 0.9, 0.4, 0.8]]
    relevant = [[True, False, True, False]]
    # the best right answer scores 0.4; 0.9 and 0.8 are wrong and ahead
    assert ranks_of_relevant(similarity, relevant).tolist() == [2]


def test_top1_accuracy_by_hand() -> None:
    similarity = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.6], [0.7, 0.7]])
    # right, wrong (label 1 wins), right, tie -> wrong
    assert top1_accuracy(similarity, [0, 0, 1, 1]) == pytest.approx(0.5)
    assert math.isnan(top1_accuracy(np.zeros((0, 2)), []))


def test_retrieval_scores_per_language_and_overall() -> None:
    # 2 images, 4 captions: en ones point at their images, fr ones are swapped by the model
    similarity = np.array(
        [
            [0.9, 0.1],  # en, image 0: right
            [0.2, 0.8],  # en, image 1: right
            [0.1, 0.7],  # fr, image 0: wrong
            [0.6, 0.3],  # fr, image 1: wrong
        ]
    )
    scores = retrieval_scores(similarity, [0, 1, 0, 1], ["en", "en", "fr", "fr"], ks=(1, 2))
    assert list(scores) == ["overall", "en", "fr"]
    assert scores["en"]["text_to_image"] == {"R@1": 1.0, "R@2": 1.0}
    assert scores["fr"]["text_to_image"] == {"R@1": 0.0, "R@2": 1.0}
    assert scores["overall"]["text_to_image"] == {"R@1": 0.5, "R@2": 1.0}
    assert (scores["overall"]["captions"], scores["overall"]["images"]) == (4, 2)
    assert (scores["fr"]["captions"], scores["fr"]["images"]) == (2, 2)
    # image -> text among English captions: both right; among French: both wrong
    assert scores["en"]["image_to_text"]["R@1"] == 1.0
    assert scores["fr"]["image_to_text"] == {"R@1": 0.0, "R@2": 1.0}
    # overall (all 4 captions): image 0's best is en0 (0.9), image 1's en1 (0.8): both on top
    assert scores["overall"]["image_to_text"]["R@1"] == 1.0


def test_zero_shot_scores_mean_over_languages() -> None:
    truth = [0, 1]
    scores = zero_shot_scores(
        {"en": np.array([[0.9, 0.1], [0.1, 0.9]]), "fr": np.array([[0.9, 0.1], [0.9, 0.1]])}, truth
    )
    assert scores == {"overall": 0.75, "en": 1.0, "fr": 0.5}


def test_recall_of_no_query_is_nan_and_bad_input_is_refused() -> None:
    assert all(math.isnan(v) for v in recall_at_k([], (1, 5)).values())
    with pytest.raises(ConfigurationError, match="at least 1"):
        recall_at_k([0], (0,))
    with pytest.raises(ConfigurationError, match="no relevant candidate"):
        ranks_of_relevant([[0.1, 0.2]], [[False, False]])
    with pytest.raises(ConfigurationError, match="same shape"):
        ranks_of_relevant([[0.1, 0.2]], [[True]])
    with pytest.raises(ConfigurationError, match="out of range"):
        text_to_image_ranks(T2I, [0, 1, 3])
    with pytest.raises(ConfigurationError, match="one language per caption"):
        retrieval_scores(T2I, [0, 1, 2], ["en"])
