"""Schemathesis hooks for tests/app/test_fuzz.py: stored ids and real pictures among the generated values.

Loaded by ``st`` through ``hooks`` in tests/app/schemathesis.toml (the repository's root on
``PYTHONPATH``); the test passes what the store holds in two environment variables:

- ``SIGLIP_FUZZ_IDS``: ids the store holds (comma-separated), put in the ``image_id`` of some
  generated requests, so that ``GET /api/images/{image_id}``, its ``/thumbnail`` and ``/similar``
  are fuzzed past their ``404``;
- ``SIGLIP_FUZZ_PICTURES``: paths of real picture files (``os.pathsep``-separated), put in the
  multipart field ``image`` of some generated bodies, so that ``POST /api/similar`` and
  ``POST /api/classify`` decode a picture instead of only refusing random bytes.

The other generated values are kept, so the error paths stay fuzzed too. Only the values of a
valid (positive) part of a request are replaced (a string id, a file part, or a missing optional
one), by values the schema accepts, so a request Schemathesis made invalid on purpose stays invalid
and a valid one valid; otherwise the checks would blame the server for the harness:

- in the fuzzing and stateful phases the strategies that draw the path parameters and the body
  are extended (``before_generate_*``), so the draw between the generated value and a real one is
  Hypothesis's and follows ``--seed``. A value drawn for an invalid part comes wrapped with the
  mutation that made it invalid (a ``meta`` that is not ``None``) and is left alone;
- the coverage and examples phases draw no values through those strategies: there, a stable hash
  of the request picks half of the cases whose path is valid to get a stored id (``before_call``;
  a ``map_case`` hook would do the same but slows the fuzzing phase down some fiftyfold). Their
  bodies are left as they are: Schemathesis re-validates a body a hook edits, cannot validate raw
  bytes, and would take the real picture for invalid data.

Where the schema declares the media types of the ``image`` part (an ``encoding`` of the form), the
real pictures are also registered as the files of those types (``schemathesis.openapi.media_type``),
from which Schemathesis then draws that part in every phase.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

MEDIA_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
IDS: list[str] = [item for item in os.environ.get("SIGLIP_FUZZ_IDS", "").split(",") if item]
PICTURES: list[bytes] = [
    Path(path).read_bytes() for path in os.environ.get("SIGLIP_FUZZ_PICTURES", "").split(os.pathsep) if path
]
ID_FIELD = "image_id"
PICTURE_FIELD = "image"
MISSING = object()


# Where the schema names the media types of the ``image`` part (``encoding: {image: {contentType:
# image/png, ...}}``), Schemathesis draws that part from the strategy registered for the type: real
# pictures of that type here (none such registered otherwise).
for _signature, _media_type in MEDIA_TYPES.items():
    _files = [picture for picture in PICTURES if picture.startswith(_signature)]
    if _files:
        schemathesis.openapi.media_type(_media_type, st.sampled_from(_files))


# The form's text parts are plain text (``encoding: {labels: {contentType: text/plain}}``): where
# Schemathesis draws a whole form from the media types of its parts (a coverage case), it fills a
# part with no strategy registered with "" even when the schema requires more; so labels are drawn
# from a few real ones.
LABELS = ["a red circle", "un carré bleu", "ein grünes Dreieck", "红色"]
schemathesis.openapi.media_type("text/plain", st.sampled_from(LABELS).map(str.encode))


def _sometimes(
    strategy: st.SearchStrategy, field: str, replaces: Callable[[Any], bool], choices: Sequence[Any]
) -> st.SearchStrategy:
    """``strategy``, whose valid draws get one of ``choices`` in ``field`` about half the time, where
    ``replaces`` accepts the value drawn there (``MISSING`` when there is none)."""
    if not choices:
        return strategy

    def extend(drawn: Any) -> st.SearchStrategy:
        if getattr(drawn, "meta", None) is not None:  # drawn for an invalid part: a mutation made it
            return st.just(drawn)
        wrapped = hasattr(drawn, "map_value")  # a valid value can come wrapped too, with no mutation
        value = drawn.value if wrapped else drawn
        if not isinstance(value, dict) or not replaces(value.get(field, MISSING)):
            return st.just(drawn)

        def put(choice: Any) -> Any:
            def replace(part: dict[str, Any]) -> dict[str, Any]:
                return {**part, field: choice}

            return drawn.map_value(replace) if wrapped else replace(drawn)

        return st.one_of(st.just(drawn), st.sampled_from(list(choices)).map(put))

    return strategy.flatmap(extend)


@schemathesis.hook
def before_generate_path_parameters(
    context: schemathesis.HookContext, strategy: st.SearchStrategy
) -> st.SearchStrategy:
    """About half the valid ``image_id`` values drawn replaced by a stored id."""
    return _sometimes(strategy, ID_FIELD, lambda drawn: isinstance(drawn, str), IDS)


@schemathesis.hook
def before_generate_body(context: schemathesis.HookContext, strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A real picture in the ``image`` part of about half the valid multipart bodies drawn.

    In place of the part drawn (text or bytes), or of none, or of ``null``, while the schema has
    the part optional: a valid body with a valid part is still valid, and the other half keeps
    what was drawn. JSON bodies (the embeddings API's) have no picture part and are left alone.
    """
    operation = context.operation
    if operation is None or all(body.media_type != "multipart/form-data" for body in operation.body):
        return strategy
    return _sometimes(
        strategy,
        PICTURE_FIELD,
        lambda drawn: drawn is MISSING or drawn is None or isinstance(drawn, (str, bytes)),
        PICTURES,
    )


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    """In the coverage and examples phases, about half the valid ``image_id`` values become stored ids."""
    meta = case.meta
    if (
        not IDS
        or meta is None
        or meta.phase.name not in ("coverage", "examples")
        or ParameterLocation.PATH not in meta.components
        or meta.is_negative_at(ParameterLocation.PATH)
        or not isinstance(case.path_parameters, dict)
        or not isinstance(case.path_parameters.get(ID_FIELD), str)
    ):
        return
    # The request's parts, not its random test-case id: the same cases get a stored id on every run.
    request = repr((case.method, case.path, case.path_parameters, case.query, dict(case.headers or {})))
    digest = zlib.crc32(request.encode("utf-8", "surrogatepass"))
    if digest % 2 == 0:
        case.path_parameters = {**case.path_parameters, ID_FIELD: IDS[digest // 2 % len(IDS)]}


# The search routes refuse some combinations of parameters that are each valid on their own (as the
# search layer refuses them in Python and the CLI): fetch_k or lambda_mult without diverse, fetch_k
# under k, and a threshold that cannot apply to the search's pair of kinds (min_similarity for a
# text query over images, min_probability for an image query over images). An OpenAPI document
# cannot say so, so Schemathesis draws them as valid data; the search layer's own check decides
# which of its positive cases are valid, and the rest are left out (negative cases are kept).
SEARCH_QUERY_KINDS = {
    "/api/search": "text",
    "/api/similar": "image",
    "/api/images/{image_id}/similar": "image",
}


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Leave out the positive search requests whose parameters the search layer refuses together."""
    operation = context.operation
    path = operation.path if operation is not None else None
    positive = case.meta is None or case.meta.generation.mode.name == "POSITIVE"
    if not positive:
        return case.media_type != "multipart/form-data" or not _typed_only_by_json(case.body)
    query_kind = SEARCH_QUERY_KINDS.get(path) if path is not None else None
    if query_kind is None or not isinstance(case.query, dict):
        return True
    return not refused_together(case.query, query_kind)


def _typed_only_by_json(body: Any) -> bool:
    """A multipart form whose text part Schemathesis made an object or a list "to break its type":
    a form carries text only, so the part arrives as that object's JSON text, which may be a valid
    value (``{}`` is the template that is the label alone): not a violation the server can see."""
    if not isinstance(body, dict):
        return False
    values = [item for value in body.values() for item in (value if isinstance(value, list) else [value])]
    return any(isinstance(item, (dict, list)) for item in values)


def refused_together(query: dict[str, Any], query_kind: str) -> bool:
    """Whether the search layer refuses the search options of ``query`` (as the request sends them:
    text, or the types the schema gives) for a ``query_kind`` query, as the server would."""
    from siglip_retriever.search.options import WEB_DEFAULTS, option_specs, parse_where

    try:
        given = {
            spec.name: _typed(spec.type, query[spec.name])
            for spec in option_specs()
            if query.get(spec.name) is not None
        }
        if "where" in given:
            given["where"] = parse_where(given["where"])
        WEB_DEFAULTS.merged(**given).applied(query_kind, given)  # type: ignore[arg-type]
    except (ValueError, KeyError):  # ConfigurationError is a ValueError
        return True
    return False


def _typed(kind: str, value: Any) -> Any:
    """A query parameter's value as the server reads it (the text of a query string, or a value)."""
    if not isinstance(value, str):
        return value
    if kind == "flag":
        return {"true": True, "false": False}[value.lower()]
    if kind == "count":
        return int(value)
    if kind in ("probability", "cosine"):
        return float(value)
    return value
