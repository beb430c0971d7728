"""Validation problems as the API and the CLI report them: field → message."""

from __future__ import annotations

from pydantic import ValidationError


def field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as field → message, the field written as the client wrote it (`tags[0].name`).
    An item of a list of plain values is named by its list, the item's place going into the message
    (`departments`: "item 0: …"). The first problem of a field wins."""
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        items: list[int] = []
        while loc and isinstance(loc[-1], int):
            items.insert(0, int(loc.pop()))
        if items:
            message = f"item {'.'.join(map(str, items))}: {message}"
        where = ""
        for part in loc:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        out.setdefault(where or "body", message)
    return out
