"""What a valid WeCom app configuration looks like, checked before anything is stored."""

from __future__ import annotations

import re
from typing import Any

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}\Z")
AES_KEY = re.compile(r"^[A-Za-z0-9]{43}\Z")
KINDS = ("agent", "contact", "kf")


def app_errors(fields: dict[str, Any]) -> dict[str, str]:
    """Field → message for every problem in an app definition; empty when it can be saved.

    Token and EncodingAESKey follow WeCom's console rules (≤32 letters/digits; exactly 43), so a typo is
    caught here instead of as a signature error on the first real callback.
    """
    errors: dict[str, str] = {}
    if not SLUG.match(str(fields.get("slug") or "")):
        errors["slug"] = "1-64 lowercase letters, digits, '-' or '_'"
    if not str(fields.get("corp_id") or "").strip() or len(str(fields.get("corp_id"))) > 64:
        errors["corp_id"] = "required, at most 64 characters"
    if fields.get("kind", "agent") not in KINDS:
        errors["kind"] = f"one of {', '.join(KINDS)}"
    if not TOKEN.match(str(fields.get("token") or "")):
        errors["token"] = "1-32 letters or digits, as set in WeCom's console"
    if not AES_KEY.match(str(fields.get("aes_key") or "")):
        errors["aes_key"] = "the 43-character EncodingAESKey from WeCom's console"
    if not str(fields.get("secret") or "").strip() or len(str(fields.get("secret"))) > 128:
        errors["secret"] = "required, at most 128 characters"
    agent_id = fields.get("agent_id")
    whole = isinstance(agent_id, int) or (str(agent_id).isascii() and str(agent_id).isdigit())
    if agent_id not in (None, "") and not whole:
        errors["agent_id"] = "a whole number"
    elif fields.get("kind", "agent") == "agent" and (agent_id in (None, "") or not int(agent_id)):
        errors["agent_id"] = ("required for a self-built app: it sends app messages, and message/send needs "
                              "the app's AgentId (agentid 0 is refused)")
    return errors
