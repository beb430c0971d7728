"""Typed admin-API endpoints: `@endpoint(...)` validates a view's query string and JSON body with pydantic
models and records them, with the response model, for the OpenAPI document (web/openapi.py).

Why in-house and not spectree, flask-openapi3 or apiflask: each of those owns the error answer (its own
body shape and one status for every validation failure) and two of them replace Flask's app and blueprint
classes. Ours must keep `{"error": {"code", "message", "fields"}}` with 400 for a bad query string and 422
for a bad body, on plain blueprints that the other helpers edit. Pydantic does the validating and the JSON
Schema; what is left here is ~100 lines: read the request, translate pydantic's errors, remember the spec.

The recipe for a view (see README, "Admin API"):

    @bp.get("/things/<id:thing_id>")          # `id`: 64-bit ids only, larger ones are a 404
    @require(Role.admin)                       # auth first: 401/403 before any 400/422
    @endpoint("One thing", query=ThingQuery, response=ThingOut)
    def get_thing(thing_id: int, query: ThingQuery) -> Any: ...

`query=` and `body=` models arrive as keyword arguments of those names; `response=` (and `status=`) only
document the answer, and are checked against every answer while the app is TESTING, so the document cannot
drift from what the views send.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from rules.problems import field_errors
from web.errors import ApiError

MAX_ID = 2**63 - 1  # a signed 64-bit column; anything larger cannot be a row


class IdConverter(IntegerConverter):
    """`<id:name>`: a row id, 0 to 2^63-1. A larger number is a 404 instead of reaching the database driver,
    where it overflows (SQLite) or is truncated (MySQL). It raises NotFound itself rather than failing the
    match (werkzeug's `max=`): a failed match next to a rule of another method is answered 405."""

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise NotFound(f"no row has id {value}: ids go up to {MAX_ID}")
        return number


@dataclass(frozen=True)
class Spec:
    """What `@endpoint` knows of a view, read by web/openapi.py."""

    summary: str
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: Any
    status: int
    description: str
    body_optional: bool = False
    upload: str | None = None
    """The multipart/form-data field that carries a file, for a view that takes one instead of JSON."""


def _list_field(annotation: Any) -> bool:
    """`list[...]` or `list[...] | None`: a parameter that may be repeated (`?tag=1&tag=2`)."""
    return list in {typing.get_origin(a) for a in (annotation, *typing.get_args(annotation))}


def parse_query(model: type[BaseModel]) -> BaseModel:
    """The query string as `model`; a repeatable parameter (a list field) keeps every value. 400 naming
    each bad parameter."""
    raw: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        values = request.args.getlist(key)
        if values:
            raw[key] = values if _list_field(info.annotation) else values[0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = field_errors(exc)
        raise ApiError(400, "bad_request", "; ".join(f"{k}: {v}" for k, v in problems.items()), problems) from None


def parse_body(model: type[BaseModel], optional: bool = False) -> BaseModel:
    """The JSON body as `model` (400 if it is not a JSON object; 422 naming each bad field). An `optional`
    body may be left out altogether, and is then the model's defaults. The body is read as JSON twice: once
    to tell "not an object" (400) from a bad field (422), then by pydantic in JSON mode, where a strict
    model still takes ISO dates as text."""
    data = request.get_data()
    if optional and not data.strip():
        return model()
    try:
        raw = json.loads(data) if data else None
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise ApiError(400, "bad_request", "send a JSON object")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        problems = field_errors(exc)
        message = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise ApiError(422, "invalid", message, problems) from None


def parse_upload(name: str) -> FileStorage:
    """The file sent as multipart/form-data field `name`; 422 naming it when there is none."""
    file = request.files.get(name)
    if file is None:
        raise ApiError(422, "invalid", f"{name}: send the file as the multipart/form-data field {name!r}",
                       {name: "required"})
    return file


@functools.cache
def _adapter(response_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(response_type)


def _check_response(spec: Spec, answer: Any) -> None:
    """While TESTING: a JSON answer must be what the document says its body is, or the test fails."""
    response = current_app.make_response(answer)
    if response.status_code >= 400 or spec.response is None or not response.is_json:
        return
    _adapter(spec.response).validate_python(response.get_json())


def endpoint(summary: str, *, query: type[BaseModel] | None = None, body: type[BaseModel] | None = None,
             body_optional: bool = False, response: Any = None, status: int = 200,
             description: str = "", upload: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Validate the request into `query`/`body` keyword arguments (`upload`: the multipart file field, as
    the `upload` argument) and document the operation (its description: `description`, else the view's
    docstring)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        spec = Spec(summary, query, body, response, status, description or inspect.getdoc(view) or "",
                    body_optional, upload)

        @functools.wraps(view)
        def typed(*args: Any, **kwargs: Any) -> Any:
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(body, body_optional)
            if upload is not None:
                kwargs["upload"] = parse_upload(upload)
            answer = view(*args, **kwargs)
            if current_app.testing:
                _check_response(spec, answer)
            return answer

        typed.spec = spec  # type: ignore[attr-defined]
        return typed

    return decorate
