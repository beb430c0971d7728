"""Splitting what a staff member typed: the command word, then its arguments.

Chat input is loose: full-width spaces and slashes (／) from Chinese keyboards, names with spaces in
quotes ("王 小明", “王 小明”, 「王 小明」). The last argument of a command (a note, a plan's text) keeps
its own spacing, so callers take it with `head_and_rest` rather than re-joining tokens.
"""

from __future__ import annotations

import re

SLASHES = ("/", "／")
QUOTES = {'"': '"', "“": "”", "「": "」", "'": "'"}
_SPACE = re.compile(r"[\s\u3000]+")


def split_command(text: str) -> tuple[str, str, bool] | None:
    """(command word, the rest, typed with a slash) or None for empty text, and for content that is not
    text at all (the check runs after the callback is stored, where an exception would be a 500). The word
    is lower-cased so /HELP and /help are one command."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    slash = text.startswith(SLASHES)
    if slash:
        text = text[1:]
    word, rest = head_and_rest(text)
    if not word:
        return None if not slash else ("", rest, True)
    return word.lower(), rest, slash


def head_and_rest(text: str) -> tuple[str, str]:
    """The first argument (unquoted) and the rest of the text, stripped."""
    text = text.strip()
    if not text:
        return "", ""
    close = QUOTES.get(text[0])
    if close:
        end = text.find(close, 1)
        if end > 0:
            return text[1:end].strip(), text[end + 1:].strip()
    parts = _SPACE.split(text, maxsplit=1)
    return parts[0], parts[1].strip() if len(parts) > 1 else ""
