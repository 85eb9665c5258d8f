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
    what was drawn.
    """
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
