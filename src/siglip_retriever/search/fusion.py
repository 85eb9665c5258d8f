"""One ranked list from what a picture shows and what it says, with a probability that keeps its
meaning.

A text query meets a picture in three ways: what the picture *shows* (SigLIP's calibrated
probability of the query and the picture, as every search has), and what it *says*, matched by
exact words (:mod:`siglip_retriever.search.lexical`: the share of the query's information that
two consecutive lines of the picture's words hold, its *coverage*) and by meaning (the cosine of
the query's text vector and the words' text vector, so that a multilingual checkpoint matches
words of another language).

Each becomes a probability, and they are combined as independent causes of a match (noisy-OR: a
picture matches when it shows the query *or* says it):

- shows: ``sigmoid(logit_scale * cos + logit_bias)``, as before;
- exact words: ``WORDS_CEILING * coverage ** WORDS_POWER``: a picture that says every word of
  the query says the query (as sure as SigLIP's surest matches); half the query's information
  found gives a quarter of that;
- meaning: SigLIP's scale and bias are trained on image-text pairs, and text-text cosines have
  another, model-dependent range, so the cosine is first compared with the query's cosines to a
  fixed cohort of unrelated texts (:data:`REFERENCE_TEXTS`, in many languages and scripts):
  ``standing = (cos - mean) / std`` counts how far the words stand out from text that has
  nothing to do with the query (score normalisation, as speaker verification's T-norm does), and
  ``MEANING_CEILING * sigmoid(MEANING_SLOPE * (standing - MEANING_MIDPOINT))`` is the
  probability, below certainty: other words that mean the query are weaker evidence than its
  own words;
- ``says = 1 - (1 - exact) * (1 - meaning)``, ``probability = 1 - (1 - shows) * (1 - says)``.

So ``min_probability`` keeps its meaning: a picture passes when it likely shows the query or
likely says it, and a query that matches nothing by look or by word gets nothing above the
threshold. Hits are ranked by that probability, computed without rounding
(:attr:`Evidence.strength`), so that pictures whose probabilities all round to 1 keep their
order. :func:`matched` names the side a hit matched by (``"shows"``, ``"says"`` or ``"both"``):
a side counts when its own probability is at least one half; when neither does, the stronger.

Example:
    >>> from siglip_retriever.search.fusion import combined, matched, says_probability
    >>> says = says_probability(coverage=1.0, standing=None)  # every word found
    >>> round(says, 4), round(combined(0.02, says), 4), matched(0.02, says)
    (0.9999, 0.9999, 'says')
    >>> round(says_probability(coverage=0.5, standing=None), 2)  # half the query's words
    0.25
    >>> says_probability(coverage=0.0, standing=0.5) < 0.001  # no word; meaning as unrelated text
    True
    >>> matched(0.97, 0.8), matched(0.97, 0.1), matched(0.2, 0.3)
    ('both', 'shows', 'says')
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "MEANING_CEILING",
    "MEANING_MIDPOINT",
    "MEANING_SLOPE",
    "REFERENCE_TEXTS",
    "WORDS_CEILING",
    "WORDS_POWER",
    "Evidence",
    "Matched",
    "combined",
    "exact_probability",
    "matched",
    "meaning_probability",
    "reference_vectors",
    "says_probability",
    "standing",
]

Matched = Literal["shows", "says", "both"]
"""Why a hit matched: what the picture shows, what it says, or both."""

WORDS_CEILING = 0.9999
"""The probability of a match when two consecutive lines of the picture's words hold every word
of the query."""
WORDS_POWER = 2.0
"""How fast the probability of exact words falls as fewer of the query's words are found."""
MEANING_MIDPOINT = 3.0
"""How many standard deviations above unrelated text the words' cosine must stand for a
probability of one half."""
MEANING_SLOPE = 3.0
"""How fast that probability rises with the standing (per standard deviation)."""
MEANING_CEILING = 0.95
"""The probability of a match when a picture's words mean the query in other words: below
certainty, since meaning matches are less sure than exact words."""

REFERENCE_TEXTS: tuple[str, ...] = (
    "Table of contents",
    "Page 3 of 12",
    "Thank you for your attention",
    "Agenda for today's meeting",
    "Please sign here",
    "Opening hours: Monday to Friday",
    "Terms and conditions apply",
    "Chapter one: introduction",
    "Exit",
    "Welcome",
    "Inhaltsverzeichnis",
    "Vielen Dank für Ihre Aufmerksamkeit",
    "Bitte hier unterschreiben",
    "Öffnungszeiten",
    "Table des matières",
    "Merci de votre attention",
    "Conditions générales",
    "Sortie de secours",
    "Índice",
    "Gracias por su atención",
    "Horario de apertura",
    "Indice dei contenuti",
    "Grazie per l'attenzione",
    "Inhoudsopgave",
    "Spis treści",
    "İçindekiler",
    "Содержание",
    "Спасибо за внимание",
    "Часы работы",
    "Зміст",
    "目录",
    "谢谢您的关注",
    "营业时间",
    "會議議程",
    "目次",
    "ご清聴ありがとうございました",
    "営業時間",
    "お知らせ",
    "목차",
    "감사합니다",
    "المحتويات",
    "شكرا لاهتمامكم",
    "תוכן העניינים",
    "विषय सूची",
    "धन्यवाद",
    "สารบัญ",
    "Πίνακας περιεχομένων",
    "Mục lục",
)
"""Short texts of the kinds pictures and pages say, in many languages and scripts, unrelated to
any particular query: the cohort a query's cosine to a picture's words is compared with."""


@dataclass(frozen=True)
class Evidence:
    """What a picture shows and says of one query, each as a probability, and their combination.

    Attributes:
        shows: SigLIP's probability that the picture shows the query.
        exact: the probability that it says the query, from the exact words found
            (:func:`exact_probability`).
        meaning: the probability that it says the query, from the meaning of its words
            (:func:`meaning_probability`).
        shows_logit: SigLIP's logit of ``shows`` (so that pictures whose probabilities round to 1
            are still ranked), if known.

    Example:
        >>> from siglip_retriever.search.fusion import Evidence
        >>> evidence = Evidence(shows=0.02, exact=0.99, meaning=0.0)
        >>> round(evidence.probability, 4), evidence.matched
        (0.9902, 'says')
        >>> Evidence(0.9999, 0.0, 0.0, 12.0).strength < Evidence(0.9999, 0.0, 0.0, 14.0).strength
        True
    """

    shows: float
    exact: float
    meaning: float
    shows_logit: float | None = None

    @property
    def says(self) -> float:
        """The probability that the picture says the query (exact words or meaning)."""
        return combined(self.exact, self.meaning)

    @property
    def probability(self) -> float:
        """The probability that the picture matches the query: it shows it or says it."""
        return combined(self.shows, self.says)

    @property
    def strength(self) -> float:
        """``-log(1 - probability)``, computed without rounding: what hits are ranked by
        (infinite when a side is certain)."""
        if self.shows_logit is not None:
            shows = _softplus(self.shows_logit)
        else:
            shows = -math.log1p(-self.shows) if self.shows < 1.0 else math.inf
        return shows + sum(-math.log1p(-p) if p < 1.0 else math.inf for p in (self.exact, self.meaning))

    @property
    def matched(self) -> Matched:
        """The side the picture matched by (:func:`matched`)."""
        return matched(self.shows, self.says)


def exact_probability(coverage: float) -> float:
    """The probability that a picture says the query, from the share of the query's information
    its words hold (:class:`~siglip_retriever.search.lexical.LexicalMatch`'s ``coverage``)."""
    return WORDS_CEILING * min(max(coverage, 0.0), 1.0) ** WORDS_POWER


def meaning_probability(standing: float | None) -> float:
    """The probability that a picture says the query, from how far its words' cosine stands above
    unrelated text (:func:`standing`); 0 when not known."""
    if standing is None or not math.isfinite(standing):
        return 0.0
    return MEANING_CEILING * _sigmoid(MEANING_SLOPE * (standing - MEANING_MIDPOINT))


def says_probability(coverage: float, standing: float | None) -> float:
    """The probability that a picture says the query: exact words or meaning (noisy-OR)."""
    return combined(exact_probability(coverage), meaning_probability(standing))


def combined(first: float, second: float) -> float:
    """Noisy-OR: the probability of a match by either of two independent causes."""
    return 1.0 - (1.0 - first) * (1.0 - second)


def matched(shows: float, says: float) -> Matched:
    """The side a hit matched by: each side counts when its probability is at least one half
    (``"both"`` when both do); when neither does, the stronger one (``"shows"`` on a tie)."""
    if shows >= 0.5 and says >= 0.5:
        return "both"
    if shows >= 0.5 or says >= 0.5:
        return "shows" if shows >= 0.5 else "says"
    return "says" if says > shows else "shows"


def standing(
    cosines: npt.ArrayLike, query: npt.ArrayLike, reference: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """How far each cosine (a query's text vector to pictures' words) stands above the query's
    cosines to unrelated texts, in their standard deviations.

    Args:
        cosines: the query's cosines to the pictures' words.
        query: the query's vector.
        reference: the vectors of :data:`REFERENCE_TEXTS` (:func:`reference_vectors`).

    Example:
        >>> import numpy as np
        >>> from siglip_retriever.search.fusion import standing
        >>> reference = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])
        >>> standing([0.9, 0.5], np.array([0.0, 1.0]), reference).round(2).tolist()
        [1.27, 0.1]
    """
    background = np.asarray(reference, dtype=np.float64) @ np.asarray(query, dtype=np.float64)
    spread = max(float(background.std()), _MIN_SPREAD)
    return (np.asarray(cosines, dtype=np.float64) - float(background.mean())) / spread


_MIN_SPREAD = 0.05  # a cohort whose cosines barely vary does not make every deviation huge


_REFERENCES: weakref.WeakKeyDictionary[Any, npt.NDArray[np.float32]] = weakref.WeakKeyDictionary()
_REFERENCES_LOCK = threading.Lock()


def reference_vectors(encoder: Any) -> npt.NDArray[np.float32]:
    """The text vectors of :data:`REFERENCE_TEXTS` by ``encoder`` (encoded once per encoder)."""
    with _REFERENCES_LOCK:
        vectors = _REFERENCES.get(encoder)
        if vectors is None:
            vectors = np.asarray(encoder.encode_texts(list(REFERENCE_TEXTS), show_progress=False))
            _REFERENCES[encoder] = vectors
        return vectors


def _sigmoid(value: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * value))


def _softplus(value: float) -> float:
    """``log(1 + exp(value))``: ``-log(1 - sigmoid(value))``, without overflow."""
    return max(value, 0.0) + math.log1p(math.exp(-abs(value)))
