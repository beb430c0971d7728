"""Validation problems as the API and the CLI report them: field → message."""

from __future__ import annotations

from pydantic import ValidationError


def field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as field → message, the field written as the client wrote it (`tags[0].name`);
    the first problem of a field wins."""
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        where = ""
        for part in err["loc"]:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        out.setdefault(where or "body", message)
    return out
