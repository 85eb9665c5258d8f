"""Zero-shot prompt templates as data: text with exactly one ``{}`` where the label goes.

A template is never handed to :meth:`str.format`: that would let a template name other fields
(``{0}``, ``{x}``), convert (``{!r}``) or pad (``{:>100000000}`` builds a string of a hundred
million characters from a 20-character template). :func:`parse_template` accepts only literal text,
``{{`` and ``}}`` for literal braces, and one bare ``{}``; everything else is an
:class:`~siglip_retriever.errors.InvalidTemplateError` that says what to write instead.
:func:`fill_template` then writes a label into the template by concatenation, so a prompt is never
longer than the template plus the label.

Example:
    >>> from siglip_retriever.search.templates import fill_template, parse_template
    >>> fill_template("a photo of {}.", "a cat")
    'a photo of a cat.'
    >>> fill_template("{{{}}}", "braces")
    '{braces}'
    >>> parse_template("{0:>100000001}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    siglip_retriever.errors.InvalidTemplateError: template '{0:>100000001}' has the field ...
"""

from __future__ import annotations

from siglip_retriever.errors import InvalidTemplateError

__all__ = ["fill_template", "parse_template"]

_SHOWN = 60  # characters of a template quoted in an error message


def parse_template(template: str) -> tuple[str, str]:
    """The text before and after the one ``{}`` of ``template``, braces unescaped.

    Args:
        template: a prompt with one ``{}`` for the label; ``{{`` and ``}}`` are literal braces.

    Returns:
        ``(prefix, suffix)``: the prompt for a label is ``prefix + label + suffix``.

    Raises:
        InvalidTemplateError: not a string, no ``{}``, more than one, a field with a name, index,
            conversion or format spec, or an unmatched brace.

    Example:
        >>> from siglip_retriever.search.templates import parse_template
        >>> parse_template("a photo of {}, {{sic}}")
        ('a photo of ', ', {sic}')
    """
    if not isinstance(template, str):
        raise InvalidTemplateError(f"a template must be text with one {{}} for the label, not {template!r}")
    parts: list[list[str]] = [[]]
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        pair = template[i : i + 2]
        if pair in ("{{", "}}"):
            parts[-1].append(char)
            i += 2
        elif pair == "{}":
            parts.append([])
            i += 2
        elif char == "{":
            end = template.find("}", i)
            if end < 0:
                raise _invalid(template, f"an unmatched '{{' at position {i}")
            field = template[i : end + 1]
            raise _invalid(
                template,
                f"the field {_quote(field)}: only a bare {{}} is allowed "
                "(no name, index, conversion or format spec)",
            )
        elif char == "}":
            raise _invalid(template, f"an unmatched '}}' at position {i}")
        else:
            parts[-1].append(char)
            i += 1
    if len(parts) == 1:
        raise InvalidTemplateError(
            f"template {_quote(template)} has no {{}} for the label; write one where the label goes, "
            "such as 'a photo of {}.'"
        )
    if len(parts) > 2:
        raise InvalidTemplateError(
            f"template {_quote(template)} has {len(parts) - 1} {{}}; write exactly one, where the label goes"
        )
    return "".join(parts[0]), "".join(parts[1])


def fill_template(template: str, label: str) -> str:
    """The prompt for ``label``: ``template`` with the label in place of its ``{}``.

    Raises:
        InvalidTemplateError: ``template`` is not valid (see :func:`parse_template`).

    Example:
        >>> from siglip_retriever.search.templates import fill_template
        >>> fill_template("une photo de {}.", "un chat")
        'une photo de un chat.'
    """
    prefix, suffix = parse_template(template)
    return f"{prefix}{label}{suffix}"


def _invalid(template: str, problem: str) -> InvalidTemplateError:
    return InvalidTemplateError(
        f"template {_quote(template)} has {problem}; write {{{{ or }}}} for a literal brace"
    )


def _quote(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")
