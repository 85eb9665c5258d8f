"""Diverse results: maximal marginal relevance (MMR) and duplicate collapsing, for every front-end.

A plain search returns the ``k`` entries nearest to the query, and near-identical pictures (a
photo and its resized copy, ten shots of one scene) crowd each other in. Two options, which
:class:`~siglip_retriever.search.retriever.Retriever` takes on every search and every front-end
passes through under the same names (they are fields of
:class:`~siglip_retriever.search.options.SearchOptions`):

- ``diverse=True``: the ``k`` hits are picked by maximal marginal relevance among the
  ``fetch_k`` nearest candidates (:func:`maximal_marginal_relevance`, the same picks as
  ``langchain_core.vectorstores.utils.maximal_marginal_relevance``). ``lambda_mult`` weighs
  relevance against diversity: 1 is the plain ranking, 0 the most diverse.
- ``collapse_duplicates=True``: one hit per group of duplicates (:func:`collapse_duplicates`),
  the best of its group; the others' ids are listed in its metadata under :data:`DUPLICATES_KEY`.
  Duplicates are images whose perceptual hashes (metadata
  :data:`~siglip_retriever.store.metadata.PHASH`, written at indexing) differ by at most
  :data:`~siglip_retriever.store.fingerprints.SAME_PICTURE_BITS` bits; an entry without a hash
  is never collapsed. More candidates are read (:data:`COLLAPSE_FIRST_READ`, then 4 times as
  many, up to :data:`COLLAPSE_FETCH_LIMIT`) so that ``k`` hits still come back when the store has
  them; a hit lists the duplicates among the candidates read.

Moments of one video (entries of kind ``"video"``, one per scene) collapse too, unless
``all_moments=True``: the best moment of a video is its hit, and the video's other moments among
the candidates are listed on it under :data:`~siglip_retriever.search.hits.MOMENTS_KEY`
(:func:`collapse_moments`); more candidates are read as for duplicates, so that ``k`` hits still
come back.

A hit's ``similarity`` and ``probability`` stay its true scores against the query, thresholds
apply before the picks, and ``rank`` is the order of the picks.

Example:
    >>> import numpy as np
    >>> from siglip_retriever.search.diversity import maximal_marginal_relevance
    >>> query = np.array([1.0, 0.0])
    >>> candidates = np.array([[1.0, 0.05], [1.0, 0.06], [0.8, -0.6]])  # the first two: near-copies
    >>> maximal_marginal_relevance(query, candidates, k=2, lambda_mult=1.0)  # plain ranking
    [0, 1]
    >>> maximal_marginal_relevance(query, candidates, k=2, lambda_mult=0.5)  # diverse
    [0, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from siglip_retriever.errors import ConfigurationError
from siglip_retriever.search.hits import MOMENTS_KEY
from siglip_retriever.search.options import DEFAULT_LAMBDA_MULT

if TYPE_CHECKING:
    from siglip_retriever.search.hits import SearchHit
    from siglip_retriever.search.options import SearchOptions

__all__ = [
    "COLLAPSE_FETCH_LIMIT",
    "COLLAPSE_FIRST_READ",
    "DUPLICATES_KEY",
    "Candidates",
    "collapse_duplicates",
    "collapse_moments",
    "maximal_marginal_relevance",
    "pick",
]

DUPLICATES_KEY = "duplicates"
"""The metadata key of a collapsed hit that lists the ids of its duplicates, best first."""
COLLAPSE_FIRST_READ = 32
"""Fewest candidates a search with ``collapse_duplicates`` reads (4 per hit wanted, else this)."""
COLLAPSE_FETCH_LIMIT = 4096
"""Most candidates one search with ``collapse_duplicates`` reads to find ``k`` distinct hits."""


def maximal_marginal_relevance(
    query: npt.ArrayLike,
    candidates: npt.ArrayLike,
    *,
    k: int,
    lambda_mult: float = DEFAULT_LAMBDA_MULT,
    relevance: npt.ArrayLike | None = None,
) -> list[int]:
    """The indexes of ``k`` candidates picked by maximal marginal relevance, in the order picked.

    The first pick is the candidate most similar (cosine) to the query; each next one maximises
    ``lambda_mult * sim(query) - (1 - lambda_mult) * max(sim(picked))``; ties go to the lower
    index. These are the picks of ``langchain_core.vectorstores.utils.maximal_marginal_relevance``.
    With ``relevance`` (one score per candidate, such as the probability of a search that
    matches words, where the cosine to the query is only one side of a match) that score stands
    for ``sim(query)``.

    Example:
        >>> from siglip_retriever.search.diversity import maximal_marginal_relevance
        >>> maximal_marginal_relevance([1.0, 0.0], [[0.0, 1.0], [1.0, 0.1], [1.0, 0.0]], k=2)
        [2, 0]
    """
    vectors = np.asarray(candidates, dtype=np.float64)
    count = min(k, len(vectors))
    if count <= 0:
        return []
    if relevance is None:
        to_query = _cosines(vectors, np.asarray(query, dtype=np.float64).reshape(-1))
    else:
        to_query = np.asarray(relevance, dtype=np.float64).reshape(-1)
    picked = [int(np.argmax(to_query))]
    redundancy = _cosines(vectors, vectors[picked[0]])
    while len(picked) < count:
        scores = lambda_mult * to_query - (1.0 - lambda_mult) * redundancy
        scores[picked] = -np.inf
        chosen = int(np.argmax(scores))
        picked.append(chosen)
        redundancy = np.maximum(redundancy, _cosines(vectors, vectors[chosen]))
    return picked


def _cosines(vectors: npt.NDArray[np.float64], other: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Cosine of each row with ``other``; 0 where a norm is 0 (as langchain_core counts it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = vectors @ other / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(other))
    values[~np.isfinite(values)] = 0.0
    return np.asarray(values, dtype=np.float64)


def collapse_duplicates(hits: Sequence[SearchHit]) -> list[tuple[int, list[str]]]:
    """Groups of duplicate pictures among ``hits`` (best first): ``(index of the group's first
    hit, ids of the others)`` for each group, in the hits' order.

    A hit joins the first group whose first hit's perceptual hash is within
    ``SAME_PICTURE_BITS`` bits of its own; a hit without a hash is a group of its own.

    Example:
        >>> from siglip_retriever.search.diversity import collapse_duplicates
        >>> from siglip_retriever.search.hits import SearchHit
        >>> from siglip_retriever.store.metadata import PHASH
        >>> hashes = ["ffff0000ffff0000", "ffff0000ffff0001", "0123456789abcdef", None]
        >>> metadatas = [{PHASH: code} if code else {} for code in hashes]
        >>> hits = [SearchHit(f"img-{n}", "image", None, None, meta) for n, meta in enumerate(metadatas)]
        >>> collapse_duplicates(hits)
        [(0, ['img-1']), (2, []), (3, [])]
    """
    from siglip_retriever.store.facts import picture_facts
    from siglip_retriever.store.fingerprints import SAME_PICTURE_BITS, hash_distance

    groups: list[tuple[int, list[str]]] = []
    leaders: list[tuple[str, list[str]]] = []  # (hash, the group's list of duplicates)
    for index, hit in enumerate(hits):
        fingerprint = picture_facts(hit.metadata).phash if hit.kind == "image" else None
        if fingerprint:
            group = next(
                (ids for leader, ids in leaders if hash_distance(leader, fingerprint) <= SAME_PICTURE_BITS),
                None,
            )
            if group is not None:
                group.append(hit.id)
                continue
        ids: list[str] = []
        groups.append((index, ids))
        if fingerprint:
            leaders.append((fingerprint, ids))
    return groups


def collapse_moments(hits: Sequence[SearchHit]) -> list[tuple[int, list[int]]]:
    """Moments of one video among ``hits`` (best first): ``(index of a hit, indexes of the same
    video's other moments)`` for each hit that is not a lesser moment of a video already met, in
    the hits' order (a hit that is no moment has no others).

    Example:
        >>> from siglip_retriever.search.diversity import collapse_moments
        >>> from siglip_retriever.search.hits import SearchHit
        >>> a, b = "vid-" + "a" * 32, "vid-" + "b" * 32
        >>> moment = lambda entry: SearchHit(entry, "image", None, None, {"kind": "video"})
        >>> photo = SearchHit("img-1", "image", None, None)
        >>> hits = [moment(a + "-m2"), photo, moment(a + "-m1"), moment(b + "-m1")]
        >>> collapse_moments(hits)
        [(0, [2]), (1, []), (3, [])]
    """
    from siglip_retriever.store.videos import parse_moment_id

    groups: list[tuple[int, list[int]]] = []
    videos: dict[str, list[int]] = {}
    for index, hit in enumerate(hits):
        parsed = parse_moment_id(hit.id) if hit.entry_kind == "video" else None
        if parsed is not None and parsed[0] in videos:
            videos[parsed[0]].append(index)
            continue
        others: list[int] = []
        groups.append((index, others))
        if parsed is not None:
            videos[parsed[0]] = others
    return groups


Candidates = tuple[list["SearchHit"], list["npt.NDArray[np.float32] | None"], bool]
"""What a search's fetch gives :func:`pick`: the hits that pass its thresholds (best first),
their stored vectors (``None`` unless asked for), and whether the store has no more."""


def pick(
    fetch: Callable[[int], Candidates],
    query: npt.ArrayLike,
    options: SearchOptions,
    relevance: Callable[[SearchHit], float] | None = None,
) -> list[SearchHit]:
    """The ``options.k`` hits of a search as its diversity options say (unranked: the caller
    numbers them).

    Args:
        fetch: reads the ``n`` nearest entries of the store as :data:`Candidates`.
        query: the query's vector (for MMR).
        options: the search's options (``k``, ``diverse``, ``fetch_k``, ``lambda_mult``,
            ``collapse_duplicates``).
        relevance: what MMR weighs as a hit's relevance (default: the cosine of its vector and
            the query's).

    Example:
        >>> from siglip_retriever.search.diversity import pick
        >>> from siglip_retriever.search.hits import SearchHit
        >>> from siglip_retriever.search.options import SearchOptions
        >>> hits = [SearchHit(f"e{n}", "text", None, str(n)) for n in range(5)]
        >>> fetch = lambda n: (hits[:n], [None] * min(n, 5), n >= 5)
        >>> [hit.id for hit in pick(fetch, [1.0], SearchOptions(k=2))]
        ['e0', 'e1']
    """
    k, wanted = options.k, options.candidates()
    collapse, moments = options.collapse_duplicates, not options.all_moments
    count = max(4 * wanted, COLLAPSE_FIRST_READ) if collapse else wanted
    while True:
        hits, vectors, complete = fetch(count)
        groups = _groups(hits, collapse, moments)
        if not (collapse or moments) or len(groups) >= wanted or complete or count >= COLLAPSE_FETCH_LIMIT:
            break
        count = min(max(count, COLLAPSE_FIRST_READ // 4) * 4, COLLAPSE_FETCH_LIMIT)
    groups = groups[:wanted]
    if options.diverse and groups:
        chosen = [vectors[group.index] for group in groups]
        if any(vector is None for vector in chosen):
            raise ConfigurationError("a diverse search needs the candidates' vectors")
        matrix = np.stack([vector for vector in chosen if vector is not None])
        scores = None if relevance is None else [relevance(hits[group.index]) for group in groups]
        order = maximal_marginal_relevance(
            query, matrix, k=k, lambda_mult=options.mmr_weight, relevance=scores
        )
        groups = [groups[n] for n in order]
    return [group.hit(hits, collapse, moments) for group in groups[:k]]


@dataclass
class _Group:
    """One hit of a search's picks: its index among the candidates, the ids of its duplicates,
    the indexes of its video's other moments."""

    index: int
    duplicates: list[str] = field(default_factory=list)
    moments: list[int] = field(default_factory=list)

    def hit(self, hits: Sequence[SearchHit], collapse: bool, moments: bool) -> SearchHit:
        """The hit, with its duplicates (``collapse``) and its video's other moments listed."""
        hit = hits[self.index]
        extra: dict[str, Any] = {}
        if collapse:
            extra[DUPLICATES_KEY] = list(self.duplicates)
        if moments and hit.entry_kind == "video":
            extra[MOMENTS_KEY] = [_moment(hits[n]) for n in self.moments]
        return replace(hit, metadata={**hit.metadata, **extra}) if extra else hit


def _groups(hits: Sequence[SearchHit], collapse: bool, moments: bool) -> list[_Group]:
    """The candidates' picks: a video's moments collapsed into its best one (``moments``), then
    duplicate pictures into the best of them (``collapse``)."""
    leaders = collapse_moments(hits) if moments else [(index, []) for index in range(len(hits))]
    if not collapse:
        return [_Group(index, [], others) for index, others in leaders]
    groups = []
    for first, duplicates in collapse_duplicates([hits[index] for index, _ in leaders]):
        index, others = leaders[first]
        groups.append(_Group(index, duplicates, others))
    return groups


def _moment(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.id,
        "start": hit.start,
        "end": hit.end,
        "probability": hit.probability,
        "similarity": hit.similarity,
    }
