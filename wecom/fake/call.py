"""One /cgi-bin/ request as the fake's endpoint handlers see it, and the helpers they share to read it (plus
the control routes' error answer).

Kept apart from ``server.py`` so endpoint modules (``endpoints_contact.py``) can use the same helpers without
importing the server, which imports them to build its endpoint table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify

from wecom.fake.errors import WeComError

_UNRECORDED_PARAMS = frozenset({"access_token", "corpsecret"})
"""Credentials never enter the call log, which tests print and dump freely."""


@dataclass
class Call:
    """One /cgi-bin/ request as the handlers see it; identity is filled in once the token is checked."""

    method: str
    path: str
    args: dict[str, str]
    body: Any  # parsed JSON, or None when the body is empty or not JSON
    at: float
    corpid: str | None = None
    agentid: int | None = None

    def log_entry(self, errcode: int) -> dict[str, Any]:
        """What /fake/calls shows for this call (``seq`` is added by the state)."""
        return {"method": self.method, "path": self.path,
                "query": {k: v for k, v in self.args.items() if k not in _UNRECORDED_PARAMS},
                "body": self.body, "errcode": errcode, "corpid": self.corpid, "agentid": self.agentid,
                "at": self.at}


def corpid_of(call: Call) -> str:
    """The corp of a token-authenticated call (set before any handler runs)."""
    assert call.corpid is not None
    return call.corpid


def query_arg(call: Call, name: str, missing_errcode: int) -> str:
    """A required query argument, or WeCom's errcode for its absence."""
    value = call.args.get(name)
    if not value:
        raise WeComError(missing_errcode)
    return value


def query_int(call: Call, name: str) -> int | None:
    """An optional integer query argument (department ids); 40058 if it is there but not a number."""
    value = call.args.get(name)
    if not value:
        return None
    if not value.isdigit():
        raise WeComError(40058, f"invalid parameter {name}")
    return int(value)


def found(record: dict[str, Any] | None, missing_errcode: int) -> dict[str, Any]:
    """``record``, or WeCom's errcode for a lookup that found nothing."""
    if record is None:
        raise WeComError(missing_errcode)
    return record


def body_object(call: Call) -> dict[str, Any]:
    """The JSON object a POST endpoint needs; 47001 for a missing or malformed body, as WeCom answers."""
    if not isinstance(call.body, dict):
        raise WeComError(47001)
    return call.body


def body_str(body: dict[str, Any], key: str, missing_errcode: int) -> str:
    """A required non-empty string field, or WeCom's errcode for its absence."""
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise WeComError(missing_errcode)
    return value


def body_ids(body: dict[str, Any], key: str) -> list[str]:
    """An optional list of string ids (tag ids, userids); absent or null means empty."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise WeComError(40058, f"invalid parameter {key}: expected a list of ids")
    return value


def body_int(body: dict[str, Any], key: str, default: int) -> int:
    """An optional integer field (``order``, ``type``); 40058 if present but not an integer."""
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise WeComError(40058, f"invalid parameter {key}: expected an integer")
    return value


def bad_request(message: str) -> tuple[Response, int]:
    """A control endpoint's answer to a malformed request."""
    return jsonify({"ok": False, "error": message}), 400
