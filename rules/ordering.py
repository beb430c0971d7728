"""Ordered lists a corp edits (opportunity stages, lost reasons): an entry put at a place, the rest
renumbered 0, 1, … so positions stay dense whatever was asked. Pure."""

from __future__ import annotations

from typing import Any


def place(others: list[Any], entry: Any, position: int | None) -> None:
    """Put `entry` among `others` (in their order, without it) at `position` (None or past the end: last)
    and renumber every `.position`."""
    others.insert(len(others) if position is None else min(position, len(others)), entry)
    for number, row in enumerate(others):
        row.position = number
