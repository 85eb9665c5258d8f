"""The search layer: queries in, ranked hits with probabilities out, for every front-end.

It sits on the store and encoding layers and imports nothing above them. Its modules:

- :mod:`.options`: :class:`SearchOptions`, every search option defined once: defaults, checks,
  merging one call's options over a front-end's defaults;
- :mod:`.retriever`: :class:`Retriever`, the one search path: directions, scores, thresholds,
  filters, modes;
- :mod:`.hybrid`: searches that match what pictures say, their candidates in one ranked list;
- :mod:`.fusion`: what a picture shows and says combined into one probability, and why it matched;
- :mod:`.lexical`: exact words, BM25 over the pictures' words, one index per store generation;
- :mod:`.tokens`: words in any language, folded (case, accents) and cut (bigrams for scripts
  without spaces), with where they are written;
- :mod:`.hits`: :class:`SearchHit` and the metadata keys every front-end's results carry;
- :mod:`.diversity`: diverse results: maximal marginal relevance (MMR), duplicate collapsing;
- :mod:`.cache`: the result cache of a retriever;
- :mod:`.zero_shot`: :class:`ZeroShotClassifier`, labels scored against images;
- :mod:`.templates`: zero-shot prompt templates, checked as data (one ``{}``, nothing else).

Example:
    >>> from siglip_retriever.search import RESULT_KEYS
    >>> RESULT_KEYS
    ('id', 'uri', 'kind', 'rank', 'similarity', 'probability', 'matched', 'says', 'words')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siglip_retriever.lazy import lazy_exports

if TYPE_CHECKING:
    from siglip_retriever.search.diversity import DUPLICATES_KEY, maximal_marginal_relevance
    from siglip_retriever.search.hits import DEFAULT_CAPTION_KEY, RESULT_KEYS, SearchHit
    from siglip_retriever.search.options import UNSET, SearchOptions
    from siglip_retriever.search.retriever import Retriever
    from siglip_retriever.search.zero_shot import Classification, ZeroShotClassifier

__all__ = [
    "DEFAULT_CAPTION_KEY",
    "DUPLICATES_KEY",
    "RESULT_KEYS",
    "UNSET",
    "Classification",
    "Retriever",
    "SearchHit",
    "SearchOptions",
    "ZeroShotClassifier",
    "maximal_marginal_relevance",
]

# public name -> module that defines it, imported on first access (the CLI reads the search
# options' specs at start-up without loading numpy, Pillow or the store)
_LAZY = {
    name: f"siglip_retriever.search.{module}"
    for module, names in {
        "diversity": ("DUPLICATES_KEY", "maximal_marginal_relevance"),
        "hits": ("DEFAULT_CAPTION_KEY", "RESULT_KEYS", "SearchHit"),
        "options": ("UNSET", "SearchOptions"),
        "retriever": ("Retriever",),
        "zero_shot": ("Classification", "ZeroShotClassifier"),
    }.items()
    for name in names
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
