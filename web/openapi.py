"""The OpenAPI 3.1 document served at /api/v1/openapi.json, built from the url map: every `/api/v1` route
is an operation, described by the `@endpoint` spec of its view (web/endpoint.py) and the role of its
`@require`. A route without a spec fails the build, so nothing is served undocumented and nothing is
documented that is not served. The request and response models become `components/schemas`."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from web.endpoint import MAX_ID, Spec
from web.schemas.common import Error

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"
PATH_PARAM = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
CONVERTERS = {"id": {"type": "integer", "minimum": 0, "maximum": MAX_ID}, "default": {"type": "string"},
              "string": {"type": "string"}}
ERRORS = {"400": "Bad query string or body that is not a JSON object", "401": "No, unknown, expired or revoked token",
          "403": "Role too low, or another corp named", "404": "No such row (or not the token's corp)",
          "409": "Conflicts with stored data", "413": "Request body over SCRM_API_MAX_BODY_BYTES",
          "422": "A body field is wrong: `fields` names each"}


def _operations(app: Flask) -> list[tuple[str, str, str, Spec, str]]:
    """(method, OpenAPI path, url rule, spec, role) for every API route, in url-map order."""
    ops = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        spec: Spec | None = getattr(view, "spec", None)
        if spec is None:
            raise LookupError(f"{rule.rule} ({rule.endpoint}) has no @endpoint spec")
        path = PATH_PARAM.sub(r"{\2}", rule.rule.removeprefix(PREFIX))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            role = getattr(view, "required_role", None)
            ops.append((method.lower(), path, rule.rule, spec, role.value if role else ""))
    return ops


def _schemas(ops: list[tuple[str, str, str, Spec, str]]) -> tuple[dict[int, dict[str, Any]], dict[Any, Any]]:
    """JSON Schemas of every body and response, sharing `components/schemas` for the models they use."""
    wanted: list[tuple[Any, JsonSchemaMode]] = [(Error, "serialization")]
    for *_, spec, _ in ops:
        if spec.body is not None:
            wanted.append((spec.body, "validation"))
        if spec.response is not None:
            wanted.append((spec.response, "serialization"))
    adapters = [(i, mode, TypeAdapter(thing).core_schema) for i, (thing, mode) in enumerate(wanted)]
    mapping, definitions = GenerateJsonSchema(ref_template=REF).generate_definitions(adapters)  # type: ignore[arg-type]
    by_type = {id(thing): mapping[(i, mode)] for i, (thing, mode) in enumerate(wanted)}
    return by_type, definitions


def _present(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without `| None`: a parameter is given or absent, never null."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if len(options) != 1:
        return prop
    return {k: v for k, v in prop.items() if k not in ("anyOf", "default")} | options[0]


def _query_params(model: type[BaseModel], definitions: dict[str, Any]) -> list[dict[str, Any]]:
    """The model's fields as query parameters; the enums they refer to join `definitions`."""
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in schema.get("$defs", {}).items():
        definitions.setdefault(name, definition)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _present(prop)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop["description"]
        if prop.get("type") == "array":
            param |= {"style": "form", "explode": True}
        params.append(param)
    return params


def _path_params(template: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": CONVERTERS[converter or "default"]}
            for converter, name in PATH_PARAM.findall(template)]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _content(response: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """A success answer's content: `str` is a CSV file, `bytes` a file of any type, else JSON."""
    if response is str:
        return {"text/csv": {"schema": {"type": "string"}}}
    if response is bytes:
        return {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    return _json(schema)


def document(app: Flask) -> dict[str, Any]:
    ops = _operations(app)
    by_type, definitions = _schemas(ops)
    error = _json(by_type[id(Error)])
    paths: dict[str, Any] = {}
    for method, path, template, spec, role in ops:
        ok: dict[str, Any] = {"description": spec.summary}
        if spec.response is not None:
            content = by_type[id(spec.response)]
            ok["content"] = _content(spec.response, content)
        op: dict[str, Any] = {
            "summary": spec.summary,
            "description": " ".join(filter(None, [spec.description, f"Needs a token with the {role} role or higher."
                                                  if role else "No token needed."])),
            "operationId": f"{method}{re.sub(r'[^A-Za-z0-9]+', '_', path)}".rstrip("_"),
            "parameters": _path_params(template) + (_query_params(spec.query, definitions) if spec.query else []),
            "responses": {str(spec.status): ok}
            | {code: {"description": what, "content": error} for code, what in ERRORS.items()},
        }
        if not role:
            op["security"] = []
        if spec.body is not None:
            op["requestBody"] = {"required": not spec.body_optional, "content": _json(by_type[id(spec.body)])}
        if spec.upload is not None:
            op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": [spec.upload],
                "properties": {spec.upload: {"type": "string", "format": "binary"}}}}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "WeCom SCRM admin API", "version": "1"},
        "servers": [{"url": PREFIX}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": definitions},
        "security": [{"bearer": []}],
        "paths": paths,
    }
