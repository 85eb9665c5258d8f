"""MkDocs hook: the HTTP API's reference, generated at build time from the app's own OpenAPI document.

The app is built as the tests build it (:func:`siglip_retriever.app.create_app` over an in-memory
store on the bundled demo model, offline), its ``openapi()`` document is rendered as Markdown in
place of the marker ``<!-- http-reference -->`` (docs/reference/http.md): every operation with its
parameters (type, default, range, allowed values), request body and responses, then every schema
with its fields. The document itself is added to the site as ``reference/openapi.json``, to
download or to load into a client generator. Nothing is fetched from the network and no
JavaScript viewer is used: the page is plain Markdown.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = "<!-- http-reference -->"
JSON_URI = "reference/openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")

_cache: dict[str, dict[str, Any]] = {}


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document (built once per process)."""
    if "document" not in _cache:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        from siglip_retriever import MultimodalStore
        from siglip_retriever.app import create_app

        _cache["document"] = create_app(MultimodalStore.in_memory(model="demo")).openapi()
    return _cache["document"]


def schema_anchor(name: str) -> str:
    """The anchor of a schema's heading."""
    return "schema-" + name.lower().replace("_", "-")


def cell(text: Any) -> str:
    """Text fit for a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def type_of(schema: dict[str, Any]) -> str:
    """A schema's type in a few words, with links to named schemas."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{schema_anchor(name)})"
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " or ".join(type_of(option) for option in schema[combinator])
    if "allOf" in schema:
        return " and ".join(type_of(option) for option in schema["allOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "string" and schema.get("format") == "binary":
        return "file"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind)


def constraints(schema: dict[str, Any]) -> str:
    """A schema's range, lengths and allowed values."""
    parts: list[str] = []
    for option in [schema, *schema.get("anyOf", [])]:
        low, high = option.get("minimum"), option.get("maximum")
        if option.get("exclusiveMinimum") is not None:
            parts.append(f"> {option['exclusiveMinimum']:g}")
        if option.get("exclusiveMaximum") is not None:
            parts.append(f"< {option['exclusiveMaximum']:g}")
        if low is not None and high is not None:
            parts.append(f"{low:g} to {high:g}")
        elif low is not None:
            parts.append(f"≥ {low:g}")
        elif high is not None:
            parts.append(f"≤ {high:g}")
        for key, words in (("minLength", "length ≥"), ("maxLength", "length ≤"), ("maxItems", "items ≤")):
            if option.get(key) is not None:
                parts.append(f"{words} {option[key]}")
        if option.get("enum"):
            parts.append("one of " + ", ".join(f"`{value}`" for value in option["enum"]))
    return "; ".join(parts)


def default_of(schema: dict[str, Any]) -> str:
    """A schema's default, as JSON in code, or nothing."""
    return f"`{json.dumps(schema['default'])}`" if "default" in schema else ""


def parameters_table(parameters: list[dict[str, Any]]) -> list[str]:
    """The operation's parameters as a table."""
    lines = [
        "| name | in | type | required | default | values | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        description = parameter.get("description") or schema.get("description", "")
        lines.append(
            f"| `{parameter['name']}` | {parameter['in']} | {cell(type_of(schema))} | "
            f"{'yes' if parameter.get('required') else 'no'} | {default_of(schema)} | "
            f"{cell(constraints(schema))} | {cell(description)} |"
        )
    return lines


def fields_table(schema: dict[str, Any]) -> list[str]:
    """An object schema's fields as a table."""
    required = set(schema.get("required", []))
    lines = ["| field | type | required | default | values | description |", "|---|---|---|---|---|---|"]
    for name, field in schema.get("properties", {}).items():
        lines.append(
            f"| `{name}` | {cell(type_of(field))} | {'yes' if name in required else 'no'} | "
            f"{default_of(field)} | {cell(constraints(field))} | {cell(field.get('description', ''))} |"
        )
    return lines


def response_row(status: str, response: dict[str, Any]) -> str:
    """One response as a table row: status, description, body media types and schemas."""
    contents = response.get("content", {}).items()
    bodies = [f"`{media}`: {type_of(content.get('schema', {}))}" for media, content in contents]
    return f"| {status} | {cell(response.get('description', ''))} | {cell('; '.join(bodies))} |"


def shared_responses(operations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The responses every operation declares alike (listed once, not under each operation)."""
    if not operations:
        return {}
    first = operations[0].get("responses", {})
    return {
        status: response
        for status, response in first.items()
        if all(operation.get("responses", {}).get(status) == response for operation in operations)
    }


def operation_section(
    path: str, method: str, operation: dict[str, Any], shared: dict[str, Any] | None = None
) -> list[str]:
    """One operation: heading, description, parameters, request body, responses (but ``shared``)."""
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("summary"):
        lines += [f"**{operation['summary']}.**", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    if operation.get("parameters"):
        lines += ["Parameters:", "", *parameters_table(operation["parameters"]), ""]
    body = operation.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            required = "required" if body.get("required") else "optional"
            lines += [f"Request body ({required}), `{media}`: {type_of(content.get('schema', {}))}.", ""]
    lines += ["Responses:", "", "| status | description | body |", "|---|---|---|"]
    for status, response in operation.get("responses", {}).items():
        if status not in (shared or {}):
            lines.append(response_row(status, response))
    return [*lines, ""]


def schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    """One named schema: heading with a fixed anchor, description, fields."""
    lines = [f"### {name} {{#{schema_anchor(name)}}}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    if schema.get("properties"):
        lines += fields_table(schema)
    else:
        lines.append(f"{type_of(schema)}; {constraints(schema)}".rstrip("; ") + ".")
    return [*lines, ""]


def render(document: dict[str, Any]) -> str:
    """The whole reference, as Markdown."""
    info = document.get("info", {})
    lines = [
        f"OpenAPI {document.get('openapi', '')}, *{info.get('title', '')}*, "
        f"version {info.get('version', '')}: [`openapi.json`](openapi.json) (generated from the app "
        "at build time).",
        "",
    ]
    if info.get("description"):
        lines += [info["description"].strip(), ""]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((path, method, item[method]))
    shared = shared_responses([operation for group in by_tag.values() for _, _, operation in group])
    if shared:
        lines += ["Every operation may also answer:", "", "| status | description | body |", "|---|---|---|"]
        lines += [*(response_row(status, response) for status, response in shared.items()), ""]
    for tag, operations in by_tag.items():
        lines += [f"## {tag[:1].upper()}{tag[1:]} {{#tag-{tag.lower().replace(' ', '-')}}}", ""]
        for path, method, operation in operations:
            lines += operation_section(path, method, operation, shared)
    lines += ["## Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += schema_section(name, schema)
    return "\n".join(lines)


def on_files(files: Any, config: Any, **kwargs: Any) -> Any:
    """Add the OpenAPI document to the site, beside the page."""
    from mkdocs.structure.files import File

    content = json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"
    files.append(File.generated(config, JSON_URI, content=content))
    return files


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the reference."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render(openapi_document()))
