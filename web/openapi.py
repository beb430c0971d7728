"""The OpenAPI 3.1 document served at /api/v1/openapi.json, built from one table of operations."""

from __future__ import annotations

from typing import Any

PAGE_PARAMS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


# (method, path, role, summary, parameters, request body schema)
OPERATIONS: list[tuple[str, str, str, str, list[dict[str, Any]], dict[str, Any] | None]] = [
    ("get", "/events", "admin", "List stored callbacks", PAGE_PARAMS + [
        _q("status", {"enum": ["received", "processed", "failed", "unhandled"]}),
        _q("routing_key", {"type": "string"}, "e.g. change_external_contact/add_external_contact"),
        _q("since", {"type": "string", "format": "date-time"}),
        _q("until", {"type": "string", "format": "date-time"}),
    ], None),
    ("get", "/events/{inbox_id}", "admin", "One stored callback with its decrypted XML", [_id("inbox_id")], None),
    ("post", "/events/{inbox_id}/replay", "admin", "Process a stored callback again", [_id("inbox_id")], None),
    ("get", "/dead-letters", "admin", "Jobs that exhausted their retries", PAGE_PARAMS + [
        _q("job", {"type": "string"}), _q("replayed", {"enum": ["true", "false"]}),
    ], None),
    ("post", "/dead-letters/{dead_letter_id}/replay", "admin", "Run a dead-lettered job again",
     [_id("dead_letter_id")], None),
    ("get", "/customers", "member", "Customers (a member sees only those they follow)", PAGE_PARAMS + [
        _q("staff", {"type": "string"}, "userid of a follower"),
        _q("keyword", {"type": "string"}, "matches name or remark"),
    ], None),
    ("get", "/customers/{customer_id}", "member", "One customer with its follow relations",
     [_id("customer_id")], None),
    ("get", "/apps", "super_admin", "Configured WeCom apps (credentials never shown)", PAGE_PARAMS, None),
    ("post", "/apps", "super_admin", "Add a WeCom app", [], {
        "type": "object",
        "required": ["slug", "corp_id", "token", "aes_key", "secret"],
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
            "corp_id": {"type": "string"}, "kind": {"enum": ["agent", "contact", "kf"]},
            "token": {"type": "string"}, "aes_key": {"type": "string", "minLength": 43, "maxLength": 43},
            "secret": {"type": "string"}, "agent_id": {"type": "integer"},
        },
    }),
]

ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}}}}}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, role, summary, params, body in OPERATIONS:
        op: dict[str, Any] = {
            "summary": summary,
            "description": f"Needs a token with the {role} role or higher.",
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "401": {"description": "No or unknown token", "content": {"application/json": {"schema": ERROR}}},
                "403": {"description": "Role too low", "content": {"application/json": {"schema": ERROR}}},
            },
        }
        if body:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "WeCom SCRM admin API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
