"""Fusion methods against each other on the corpus of :mod:`tests.search.wordy`, with the demo model.

Run: ``HF_HUB_OFFLINE=1 python -m tests.search.fusion_methods`` (prints a Markdown table). Each
method ranks every picture of the corpus for each query from the same signals: SigLIP's logit of
the query and the picture (what it shows), the BM25 score and coverage of its words
(:mod:`siglip_retriever.search.lexical`), and the cosine of the query's text vector and its words'
(``MultimodalStore.query_words``). The last row is the product itself (``Retriever.search_text``).

The measures:

- word R@1: the first hit of a word query says every word of it (``wordy.says_all``);
- the same, counting only hits whose probability is at least 0.5 (``min_probability=0.5``);
- visual: for a query of what pictures show, both pictures of its class come first;
- nonsense: hits at probability >= 0.5 for words nothing says or shows;
- meaning: a slide whose words say the query in another language is in the top 3, at >= 0.5.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from siglip_retriever import MultimodalStore, Retriever
from siglip_retriever.search import fusion
from siglip_retriever.search.lexical import word_index
from tests.search.wordy import NONSENSE, SHAPE_WORDS, VISUAL, WORDY, says_all, words, write_corpus

Ranking = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]  # (what ranks, the probability)


class Signals:
    """The signals of every picture of a store for a query."""

    def __init__(self, store: MultimodalStore) -> None:
        self.store = store
        items = store.get(where={"kind": "image"}, include_vectors=True)
        self.ids = [item.id for item in items]
        self.names = [Path(str(item.uri)).name for item in items]
        self.vectors = np.stack([np.asarray(item.vector) for item in items])

    def __call__(self, query: str) -> dict[str, npt.NDArray[np.float64]]:
        store = self.store
        vector = store.encoder.encode_query(query)
        logit = store.logit_scale * (self.vectors @ vector) + store.logit_bias
        lexical = word_index(store).search(query)
        cosines = dict(store.query_words(vector, k=len(self.ids)))
        cos = np.array([cosines.get(key, np.nan) for key in self.ids])
        return {
            "logit": logit,
            "coverage": np.array([lexical[key].coverage if key in lexical else 0.0 for key in self.ids]),
            "bm25": np.array([lexical[key].score if key in lexical else 0.0 for key in self.ids]),
            "cos": cos,
            "standing": fusion.standing(cos, vector, fusion.reference_vectors(store.encoder)),
        }


def _ranks(score: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    order = np.argsort(-score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    return ranks


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def visual(s: dict[str, npt.NDArray[np.float64]]) -> Ranking:
    return s["logit"], _sigmoid(s["logit"])


def rrf(s: dict[str, npt.NDArray[np.float64]]) -> Ranking:
    """Reciprocal-rank fusion (k=60) of the look, BM25 and the words' cosine; the probability
    stays SigLIP's (RRF has none)."""
    score = 1 / (60 + _ranks(s["logit"]))
    score += np.where(s["bm25"] > 0, 1 / (60 + _ranks(s["bm25"])), 0.0)
    has_words = ~np.isnan(s["cos"])
    score += np.where(has_words, 1 / (60 + _ranks(np.where(has_words, s["cos"], -9.0))), 0.0)
    return score, _sigmoid(s["logit"])


def linear(s: dict[str, npt.NDArray[np.float64]]) -> Ranking:
    """Half SigLIP's probability, half the BM25 score over the best one's."""
    top = s["bm25"].max()
    score = 0.5 * _sigmoid(s["logit"]) + 0.5 * (s["bm25"] / top if top > 0 else s["bm25"])
    return score, score


def calibrated(
    words_ceiling: float, meaning_ceiling: float, *, combine: str = "noisy-or", meaning: bool = True
) -> Callable[[dict[str, npt.NDArray[np.float64]]], Ranking]:
    """The probabilities of :mod:`siglip_retriever.search.fusion` with other constants, combined by
    noisy-OR (ranked by :attr:`~siglip_retriever.search.fusion.Evidence.strength`) or by max."""

    def method(s: dict[str, npt.NDArray[np.float64]]) -> Ranking:
        saved = fusion.WORDS_CEILING, fusion.MEANING_CEILING
        fusion.WORDS_CEILING, fusion.MEANING_CEILING = words_ceiling, meaning_ceiling
        try:
            evidence = [
                fusion.Evidence(
                    float(_sigmoid(logit)),
                    fusion.exact_probability(float(coverage)),
                    fusion.meaning_probability(float(z) if meaning and np.isfinite(z) else None),
                    float(logit),
                )
                for logit, coverage, z in zip(s["logit"], s["coverage"], s["standing"], strict=True)
            ]
        finally:
            fusion.WORDS_CEILING, fusion.MEANING_CEILING = saved
        if combine == "max":
            probability = np.array([max(e.shows, e.says) for e in evidence])
            return probability + 1e-9 * s["bm25"], probability
        probability = np.array([e.probability for e in evidence])
        return np.array([e.strength for e in evidence]) + 1e-9 * s["bm25"], probability

    return method


METHODS: dict[str, Callable[[dict[str, npt.NDArray[np.float64]]], Ranking]] = {
    "visual only (0.5)": visual,
    "RRF (k=60) of look, BM25, words' cosine; probability = SigLIP's": rrf,
    "0.5 SigLIP probability + 0.5 BM25 / best BM25": linear,
    "max(shows, says)": calibrated(0.9999, 0.95, combine="max"),
    "noisy-OR, exact words only (no meaning)": calibrated(0.9999, 0.95, meaning=False),
    "noisy-OR, words ceiling 0.99": calibrated(0.99, 0.95),
    "noisy-OR, words ceiling 0.999": calibrated(0.999, 0.95),
    "noisy-OR, meaning ceiling 1": calibrated(0.9999, 1.0),
    "noisy-OR, words ceiling 0.9999, meaning ceiling 0.95 (chosen)": calibrated(0.9999, 0.95),
}


def build(root: Path) -> MultimodalStore:
    """A store of the corpus, written under ``root``, with the words of its wordy pictures."""
    said = write_corpus(root / "pictures")
    store = MultimodalStore(root / "db", model="demo")
    store.index_folder(root / "pictures", ocr="off")
    ids = {Path(str(item.uri)).name: item.id for item in store.get() if item.uri}
    store.set_words([ids[name] for name in said], [words(item.lines) for item in said.values()], source="ocr")
    return store


def measure(store: MultimodalStore, rank: Callable[[str], tuple[list[str], list[float]]]) -> list[str]:
    """The measures of a ranking (query -> picture file names best first, their probabilities)."""
    texts = {f"says_{item.name}.png": item.text for item in (*WORDY, *SHAPE_WORDS)}
    queries = [query for item in WORDY for query in item.queries]
    first = at_half = 0
    for query in queries:
        names, probabilities = rank(query)
        first += says_all(texts.get(names[0], ""), query)
        passing = [name for name, p in zip(names, probabilities, strict=True) if p >= 0.5]
        at_half += bool(passing) and says_all(texts.get(passing[0], ""), query)
    shown = sum(all(name.startswith(cls) for name in rank(query)[0][:2]) for query, cls in VISUAL)
    nonsense = sum(sum(p >= 0.5 for p in rank(query)[1]) for query in NONSENSE)
    meaning = 0
    for item in SHAPE_WORDS:
        names, probabilities = rank(item.queries[0])
        top = names[:3]
        name = f"says_{item.name}.png"
        meaning += name in top and probabilities[names.index(name)] >= 0.5
    return [
        f"{first / len(queries):.2f}",
        f"{at_half / len(queries):.2f}",
        f"{shown}/{len(VISUAL)}",
        str(nonsense),
        f"{meaning}/{len(SHAPE_WORDS)}",
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = build(Path(folder))
        signals = Signals(store)
        rows = []
        for name, method in METHODS.items():

            def rank(query: str, method: Callable[..., Ranking] = method) -> tuple[list[str], list[float]]:
                score, probability = method(signals(query))
                order = np.argsort(-score, kind="stable")
                return [signals.names[n] for n in order], [float(probability[n]) for n in order]

            rows.append([name, *measure(store, rank)])
        retriever = Retriever(store, k=len(signals.ids))

        def product(query: str) -> tuple[list[str], list[float]]:
            hits = retriever.search_text(query)
            return [Path(str(hit.uri)).name for hit in hits], [float(hit.probability or 0.0) for hit in hits]

        rows.append(["Retriever.search_text (the product, mode hybrid)", *measure(store, product)])
        queries = sum(len(item.queries) for item in WORDY)
        print(
            f"{len(signals.ids)} pictures ({len(WORDY) + len(SHAPE_WORDS)} with words), {queries} word "
            f"queries, {len(VISUAL)} visual, {len(NONSENSE)} nonsense; demo model\n"
        )
        print(
            "| fusion | word R@1 | word R@1, min_probability=0.5 | visual: class first (2 of 2) "
            "| nonsense hits >= 0.5 | meaning: other language in top 3, >= 0.5 |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        store.close()


if __name__ == "__main__":
    main()
