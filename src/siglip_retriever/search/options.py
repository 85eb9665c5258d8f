"""Search options, defined once: every option of a search, its default, its checks, and how one
call's options are laid over a front-end's defaults.

:class:`SearchOptions` is the one definition. Every front-end derives its options from it: the
Python classes (:class:`~siglip_retriever.search.retriever.Retriever`, the LangChain and
LlamaIndex retrievers, the LangChain vector store) take its fields as keyword arguments, the CLI
builds its ``search`` and ``similar`` options from :func:`option_specs`, and the web API builds
its query parameters from the same specs. A new option is a field here (with its spec) and its
effect in the search layer: every front-end accepts it from then on, and
``tests/search/test_options_everywhere.py`` fails until it does.

The options:

- ``k``: how many hits (at most :data:`MAX_K`);
- ``kind``: what to return: ``"image"``, ``"text"``, or ``"any"`` (images and texts);
- ``where``: a Chroma ``where`` filter on the entries' metadata (``filter`` in LangChain's
  vector store, whose methods name it so);
- ``min_probability``: leave out image-text pairs whose SigLIP probability is lower;
- ``min_similarity``: leave out image-image and text-text pairs whose cosine is lower;
- ``diverse``, ``fetch_k``, ``lambda_mult``: pick the hits by maximal marginal relevance among
  the ``fetch_k`` nearest (:mod:`siglip_retriever.search.diversity`);
- ``collapse_duplicates``: one hit per group of duplicate pictures;
- ``all_moments``: every moment of a video that matches, each its own hit; by default (``False``)
  a video's moments collapse into its best one, which lists the others (``moments``);
- ``mode``: how pictures match (:data:`MODES`): by what they show (``"visual"``), by what they
  say (``"text"``: their words, read by OCR or from a PDF's text layer), or both in one list
  (``"hybrid"``); ``None`` (the default) is ``"hybrid"`` for a text query when the store holds
  words, else ``"visual"`` (:meth:`SearchOptions.resolved_mode`).

Merging: :meth:`SearchOptions.merged` lays one call's options over the defaults. An option left
out, or given as :data:`UNSET`, keeps its default; ``None`` means "none" (no threshold, no
filter), as httpx merges a request's options over a client's. Every combination is checked, so
the same wrong request gets the same :class:`~siglip_retriever.errors.ConfigurationError`, with
the same words, from Python, the CLI (``error:``, exit code 2) and the web API (``422``).

Front-ends whose users expect other defaults declare them here, with the reason:
:data:`DEFAULTS` (Python), :data:`VECTOR_STORE_DEFAULTS`, :data:`CLI_DEFAULTS`,
:data:`WEB_DEFAULTS`.

Example:
    >>> from siglip_retriever.search.options import DEFAULTS, UNSET
    >>> options = DEFAULTS.merged(k=8, diverse=True, min_probability=UNSET)
    >>> options.k, options.diverse, options.candidates()
    (8, True, 20)
    >>> DEFAULTS.merged(lambda_mult=0.3)
    Traceback (most recent call last):
    ...
    siglip_retriever.errors.ConfigurationError: fetch_k and lambda_mult apply to diverse (MMR) searches; ...
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from typing import Any, Literal, TypedDict

from siglip_retriever.errors import ConfigurationError, LimitExceededError

__all__ = [
    "CLI_DEFAULTS",
    "DEFAULTS",
    "DEFAULT_FETCH_K",
    "DEFAULT_LAMBDA_MULT",
    "KINDS",
    "MAX_K",
    "MODES",
    "UNSET",
    "VECTOR_STORE_DEFAULTS",
    "WEB_DEFAULTS",
    "Mode",
    "OptionSpec",
    "QueryKind",
    "SearchKind",
    "SearchKwargs",
    "SearchOptions",
    "option_specs",
    "parse_where",
]

SearchKind = Literal["image", "text", "any"]
"""What a search returns: images, texts, or both (``"any"``)."""
KINDS: tuple[SearchKind, ...] = ("image", "text", "any")
QueryKind = Literal["text", "image"]
"""What a query was made from."""
Mode = Literal["visual", "text", "hybrid"]
"""How pictures match a query: by what they show, by what they say, or both."""
MODES: tuple[Mode, ...] = ("visual", "text", "hybrid")

MAX_K = 10_000
"""The most hits (and MMR candidates) one search returns; a server may set a lower limit."""
DEFAULT_FETCH_K = 20
"""Candidates a diverse search picks from when ``fetch_k`` is not given (LangChain's default),
or ``k`` when that is larger."""
DEFAULT_LAMBDA_MULT = 0.5
"""Relevance against diversity in a diverse search when ``lambda_mult`` is not given
(LangChain's default)."""


class _Unset:
    """The type of :data:`UNSET`."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()
"""An option not given: it keeps the default (``None`` means "none", not "the default")."""

OptionType = Literal["count", "probability", "cosine", "flag", "choice", "filter"]


@dataclass(frozen=True)
class OptionSpec:
    """What a front-end needs to offer one option: its name, default, meaning and values.

    Attributes:
        name: the option's name (the CLI's flag is ``--`` and the name with ``-`` for ``_``).
        default: the default of :data:`DEFAULTS`.
        help: one line that says what the option does (``--help``, OpenAPI, docstrings).
        type: ``"count"`` (an integer from 1 to :data:`MAX_K`), ``"probability"`` (a number in
            [0, 1]), ``"cosine"`` (in [-1, 1]), ``"flag"`` (true or false), ``"choice"`` (one of
            ``choices``) or ``"filter"`` (a Chroma ``where`` filter; JSON on the command line and
            over HTTP).
        short: the CLI's short flag, if any.
        choices: the values of a ``"choice"`` (``()`` for other types).

    Example:
        >>> from siglip_retriever.search.options import option_specs
        >>> [spec.name for spec in option_specs()][:3]
        ['k', 'kind', 'where']
    """

    name: str
    default: Any
    help: str
    type: OptionType
    short: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The lowest and highest value of a number, else ``None``."""
        return _BOUNDS.get(self.type)


_BOUNDS: dict[str, tuple[float, float]] = {
    "count": (1, MAX_K),
    "probability": (0.0, 1.0),
    "cosine": (-1.0, 1.0),
}


def _option(
    default: Any, type: OptionType, help: str, short: str | None = None, choices: tuple[str, ...] = ()
) -> Any:
    """A field of :class:`SearchOptions`: its default, and in its metadata what :class:`OptionSpec`
    says of it besides its name."""
    return field(default=default, metadata={"help": help, "type": type, "short": short, "choices": choices})


@dataclass(frozen=True)
class SearchOptions:
    """Every option of a search, checked (see the module's docstring for each one's meaning).

    Raises:
        ConfigurationError: an option of the wrong type or out of its range, or options that do
            not go together (``fetch_k`` or ``lambda_mult`` without ``diverse``, ``fetch_k``
            below ``k``).
        LimitExceededError: ``k`` or ``fetch_k`` above :data:`MAX_K` (or a server's limit,
            :meth:`within`).

    Example:
        >>> from siglip_retriever.search.options import SearchOptions
        >>> SearchOptions(k=10, kind="any").store_kind is None
        True
        >>> SearchOptions(k=0)
        Traceback (most recent call last):
        ...
        siglip_retriever.errors.ConfigurationError: k must be a positive integer, not 0
    """

    k: int = _option(4, "count", "Number of hits.", short="-k")
    kind: Literal["image", "text", "any"] = _option(
        "image", "choice", "What to return: images, texts, or any (images and texts).", choices=KINDS
    )
    where: Mapping[str, Any] | None = _option(
        None, "filter", 'Chroma where filter on the entries\' metadata, e.g. {"album": "2019"}.'
    )
    min_probability: float | None = _option(
        None, "probability", "Only image-text pairs whose SigLIP probability is at least this."
    )
    min_similarity: float | None = _option(
        None, "cosine", "Only image-image and text-text pairs whose cosine similarity is at least this."
    )
    diverse: bool = _option(
        False, "flag", "Pick varied hits: maximal marginal relevance among the fetch_k nearest."
    )
    fetch_k: int | None = _option(
        None, "count", "With diverse: how many nearest candidates to pick from (default: 20, or k if larger)."
    )
    lambda_mult: float | None = _option(
        None, "probability", "With diverse: 1 ranks by relevance alone, 0 by diversity alone (default: 0.5)."
    )
    collapse_duplicates: bool = _option(
        False,
        "flag",
        "One hit per group of duplicate pictures; the others' ids in its metadata 'duplicates'.",
    )
    all_moments: bool = _option(
        False,
        "flag",
        "Every matching moment of a video as its own hit; by default a video's moments collapse into "
        "its best one, the others listed in its metadata 'moments'.",
    )
    mode: Literal["visual", "text", "hybrid"] | None = _option(
        None,
        "choice",
        "How pictures match: by what they show (visual), by the words they say (text), or both in one "
        "list (hybrid). Default: hybrid for a text query when the store holds words, else visual.",
        choices=MODES,
    )

    def __post_init__(self) -> None:
        for spec in option_specs():
            value = _checked(spec, getattr(self, spec.name))
            object.__setattr__(self, spec.name, value)
        if not self.diverse and (self.fetch_k is not None or self.lambda_mult is not None):
            raise ConfigurationError(
                "fetch_k and lambda_mult apply to diverse (MMR) searches; add diverse=True"
            )
        if self.diverse and self.fetch_k is not None and self.fetch_k < self.k:
            raise ConfigurationError(
                f"fetch_k ({self.fetch_k}) must be at least k ({self.k}): MMR picks k hits among fetch_k "
                "candidates"
            )

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> tuple[Any, ...]:
        """The options as a hashable tuple (the filter as canonical JSON): a cache key."""
        where = json.dumps(self.where, sort_keys=True, default=str) if self.where is not None else None
        return tuple(where if spec.name == "where" else getattr(self, spec.name) for spec in option_specs())

    def merged(self, **given: Any) -> SearchOptions:
        """These defaults with one call's options laid over them, checked.

        An option left out or :data:`UNSET` keeps its default. Turning ``diverse`` off drops the
        default ``fetch_k`` and ``lambda_mult`` (those given in the same call are refused).

        Raises:
            ConfigurationError: an unknown option, a bad value or a bad combination.

        Example:
            >>> from siglip_retriever.search.options import SearchOptions
            >>> mmr = SearchOptions(diverse=True, fetch_k=30)
            >>> mmr.merged(k=5).fetch_k, mmr.merged(diverse=False).fetch_k
            (30, None)
        """
        values = {name: value for name, value in given.items() if value is not UNSET}
        unknown = sorted(set(values) - _NAMES)
        if unknown:
            raise ConfigurationError(
                f"unknown search options {unknown}; the options are {', '.join(sorted(_NAMES))}"
            )
        if values.get("diverse") is False:
            values = {"fetch_k": None, "lambda_mult": None, **values}
        return replace(self, **values) if values else self

    def within(self, max_k: int) -> SearchOptions:
        """These options, when ``k`` and ``fetch_k`` are at most ``max_k`` (a server's limit).

        Raises:
            LimitExceededError: one is larger.
        """
        for name in ("k", "fetch_k"):
            value = getattr(self, name)
            if value is not None and value > max_k:
                raise LimitExceededError(name, value, max_k)
        return self

    def as_kwargs(self) -> SearchKwargs:
        """Every option as keyword arguments (for a class that takes them, such as
        :class:`~siglip_retriever.search.retriever.Retriever`)."""
        return {spec.name: getattr(self, spec.name) for spec in option_specs()}  # type: ignore[return-value]

    @property
    def store_kind(self) -> Literal["image", "text"] | None:
        """The store's name for :attr:`kind`: ``None`` for ``"any"``."""
        return None if self.kind == "any" else self.kind

    @property
    def mmr_weight(self) -> float:
        """``lambda_mult``, or its default."""
        return self.lambda_mult if self.lambda_mult is not None else DEFAULT_LAMBDA_MULT

    def candidates(self) -> int:
        """How many candidates the picks need: ``fetch_k`` for a diverse search (``max(20, k)``
        when not given), else ``k``."""
        if not self.diverse:
            return self.k
        return self.fetch_k if self.fetch_k is not None else max(DEFAULT_FETCH_K, self.k)

    def applied(
        self, query_kind: QueryKind | None, given: Collection[str] = (), *, has_words: bool = False
    ) -> tuple[Mode, float | None, float | None]:
        """Every check of these options for a search of a ``query_kind`` query, and what applies:
        ``(mode, min_probability, min_similarity)`` (:meth:`resolved_mode`, :meth:`thresholds`).

        Raises:
            ConfigurationError: a given mode or threshold cannot apply to this search.

        Example:
            >>> from siglip_retriever.search.options import SearchOptions
            >>> SearchOptions(mode="text", min_probability=0.5).applied("image", ["mode", "min_probability"])
            ('text', 0.5, None)
        """
        mode = self.resolved_mode(query_kind, given, has_words=has_words)
        return (mode, *self.thresholds(query_kind, given, mode))

    def resolved_mode(
        self, query_kind: QueryKind | None, given: Collection[str] = (), *, has_words: bool = False
    ) -> Mode:
        """The mode this search of a ``query_kind`` query runs in.

        ``None`` is ``"hybrid"`` for a text query of images (``kind="image"``) when the store
        holds words (``has_words``), else ``"visual"``. An image query matches pictures by look
        (``"visual"``: the cosine of the pictures) or by their words (``"text"``: SigLIP's
        probability of the query picture and the words' text vector); the two have no common
        scale, so ``"hybrid"`` needs a text query. A mode given as a default (not in ``given``)
        that cannot apply is left out, as a threshold is.

        Raises:
            ConfigurationError: a given mode cannot apply to this search.

        Example:
            >>> from siglip_retriever.search.options import SearchOptions
            >>> SearchOptions().resolved_mode("text", has_words=True), SearchOptions().resolved_mode("image")
            ('hybrid', 'visual')
            >>> SearchOptions(mode="hybrid").resolved_mode("image", ["mode"])
            Traceback (most recent call last):
            ...
            siglip_retriever.errors.ConfigurationError: mode='hybrid' applies to text queries; ...
        """
        mode = self.mode
        if mode in ("text", "hybrid"):
            problem = None
            if self.kind != "image":
                problem = (
                    f"mode={mode!r} applies to searches of images: it matches pictures by their "
                    f"words; use kind='image' (this search asks for kind={self.kind!r})"
                )
            elif query_kind is None:
                problem = f"mode={mode!r} applies to text and image queries, not to a bare vector"
            elif query_kind == "image" and mode == "hybrid":
                problem = (
                    "mode='hybrid' applies to text queries; an image query matches pictures by look "
                    "(mode='visual', a cosine) or by their words (mode='text', a probability)"
                )
            if problem is None:
                return mode
            if "mode" in given:
                raise ConfigurationError(problem)
        hybrid = query_kind == "text" and self.kind == "image" and has_words and mode is None
        return "hybrid" if hybrid else "visual"

    def thresholds(
        self, query_kind: QueryKind | None, given: Collection[str] = (), mode: Mode = "visual"
    ) -> tuple[float | None, float | None]:
        """The thresholds that apply to this search of a ``query_kind`` query: ``(min_probability,
        min_similarity)``, each ``None`` where it cannot apply.

        Args:
            query_kind: what the query was made from (``None``: a bare vector).
            given: the names of the options the caller gave (not defaults): a threshold given
                that cannot apply is refused; a default one that cannot apply is left out.
            mode: the search's mode (:meth:`resolved_mode`): an image query in ``"text"`` mode
                makes image-text pairs (the query picture and the pictures' words).

        Raises:
            ConfigurationError: a given threshold cannot apply to this search's pairs.
        """
        kind = self.store_kind
        by_words = query_kind == "image" and mode == "text"
        cross_modal = by_words or (query_kind is not None and kind != query_kind)  # image-text pairs
        one_modality = not by_words and (query_kind is None or kind in (None, query_kind))  # others
        if "min_probability" in given and self.min_probability is not None and not cross_modal:
            raise ConfigurationError(
                "min_probability applies to image-text pairs, and this search returns none; "
                "use min_similarity for image-image and text-text searches"
            )
        if "min_similarity" in given and self.min_similarity is not None and not one_modality:
            raise ConfigurationError(
                "min_similarity applies to image-image and text-text pairs, and this search returns "
                "image-text pairs only; use min_probability"
            )
        return (
            self.min_probability if cross_modal else None,
            self.min_similarity if one_modality else None,
        )


class SearchKwargs(TypedDict, total=False):
    """The fields of :class:`SearchOptions` as keyword arguments, for type checkers (a test keeps
    the two alike)."""

    k: int
    kind: SearchKind
    where: Mapping[str, Any] | None
    min_probability: float | None
    min_similarity: float | None
    diverse: bool
    fetch_k: int | None
    lambda_mult: float | None
    collapse_duplicates: bool
    all_moments: bool
    mode: Mode | None


def option_specs() -> tuple[OptionSpec, ...]:
    """One :class:`OptionSpec` per field of :class:`SearchOptions`, in the order defined."""
    return _SPECS


def _spec(item: Field[Any]) -> OptionSpec:
    meta = item.metadata
    return OptionSpec(item.name, item.default, meta["help"], meta["type"], meta["short"], meta["choices"])


_SPECS = tuple(_spec(item) for item in fields(SearchOptions))
_NAMES = frozenset(spec.name for spec in _SPECS)


def _checked(spec: OptionSpec, value: Any) -> Any:
    """``value`` as option ``spec`` takes it.

    Raises:
        ConfigurationError: it is not.
    """
    name = spec.name
    if value is None and spec.default is None:
        return None
    if spec.type == "flag":
        if not isinstance(value, bool):
            raise ConfigurationError(f"{name} must be True or False, not {value!r}")
        return value
    if spec.type == "choice":
        if value not in spec.choices:
            *others, last = (repr(choice) for choice in spec.choices)
            raise ConfigurationError(f"{name} must be {', '.join(others)} or {last}, not {value!r}")
        return value
    if spec.type == "filter":
        if not isinstance(value, Mapping):
            raise ConfigurationError(
                f"{name} must be a Chroma where filter (a mapping such as {{'album': '2019'}}), not {value!r}"
            )
        return dict(value)
    low, high = _BOUNDS[spec.type]
    if spec.type == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigurationError(f"{name} must be a positive integer, not {value!r}")
        if value > high:
            raise LimitExceededError(name, value, int(high))
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be a number between {low:g} and {high:g}, not {value!r}")
    return float(value)


def parse_where(text: str | None) -> dict[str, Any] | None:
    """A ``where`` filter written as JSON (the CLI's ``--where``, the API's ``where``); ``None``
    when not given or blank.

    Raises:
        ConfigurationError: it is not a JSON object.

    Example:
        >>> from siglip_retriever.search.options import parse_where
        >>> parse_where('{"album": "2019"}')
        {'album': '2019'}
    """
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f'where must be a JSON object such as {{"album": "2019"}}: {exc}') from None
    if not isinstance(value, dict):
        raise ConfigurationError(f'where must be a JSON object such as {{"album": "2019"}}, not {text!r}')
    return value


DEFAULTS = SearchOptions()
"""Python's defaults (:class:`~siglip_retriever.search.retriever.Retriever`, the LangChain and
LlamaIndex retrievers): 4 images, LangChain's ``k``: what a chat model's context wants."""

VECTOR_STORE_DEFAULTS = SearchOptions(kind="text")
"""The LangChain vector store's defaults: texts, because LangChain users add documents (texts) to
a vector store and expect documents back; ``kind="image"`` searches the pictures."""

CLI_DEFAULTS = SearchOptions(k=5)
"""The CLI's defaults: 5 hits, a table one can read at a glance in a terminal."""

WEB_DEFAULTS = SearchOptions(k=12)
"""The web API's and page's defaults: 12 hits, the page's grid of thumbnails (3 rows of 4, or 4
of 3), where a person scans many pictures at once."""
