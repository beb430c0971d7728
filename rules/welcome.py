"""Which welcome message a new customer gets, and its text (manual 004 §3.3, §3.2).

Precedence: a welcome set in WeCom's console wins (WeCom then sends no WelcomeCode, so we never get
here), then the channel code's own welcome, then the member's, then the corp default. Within one scope
a time-of-day variant whose window holds the add time beats the variant without a window.
"""

from __future__ import annotations

from dataclasses import dataclass

NICKNAME = "#nickname#"
CODE_TEXT_LIMIT = 100
TEXT_BYTES_LIMIT = 4000  # send_welcome_msg's text.content limit (doc 92599) is in bytes, not characters
NICKNAME_WORST_BYTES = 64
"""What `#nickname#` may cost once filled in, planned for at configuration: a WeChat name of 16 characters
of up to 4 bytes each (emoji). WeCom documents no bound on the name; a longer one is trimmed at send."""
MAX_ATTACHMENTS = 9
SCOPE_RANK = {"code": 0, "staff": 1, "default": 2}


@dataclass(frozen=True)
class WelcomeOption:
    id: int
    scope: str
    userid: str | None = None
    code_id: int | None = None
    start_minute: int | None = None
    end_minute: int | None = None

    def in_window(self, minute: int) -> bool:
        if self.start_minute is None or self.end_minute is None:
            return True
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute  # overnight, e.g. 22:00–08:00


def choose_welcome(options: list[WelcomeOption], code_id: int | None, userid: str,
                   local_minute: int) -> WelcomeOption | None:
    """The welcome for a customer who added `userid` (through code `code_id`, if any) at `local_minute`
    (minutes since local midnight), or None when nothing applies."""
    def applies(o: WelcomeOption) -> bool:
        if o.scope == "code":
            return code_id is not None and o.code_id == code_id
        if o.scope == "staff":
            return o.userid == userid
        return o.scope == "default"

    fitting = [o for o in options if applies(o) and o.in_window(local_minute)]
    if not fitting:
        return None
    return min(fitting, key=lambda o: (SCOPE_RANK[o.scope], o.start_minute is None, o.id))


def render(text: str, nickname: str) -> str:
    """The text as the customer sees it: `#nickname#` becomes their WeChat name."""
    return text.replace(NICKNAME, nickname)


def worst_case_bytes(text: str) -> int:
    """The UTF-8 size of `text` once every `#nickname#` is filled in with the longest name planned for."""
    return len(text.encode("utf-8")) + text.count(NICKNAME) * (NICKNAME_WORST_BYTES - len(NICKNAME))


def fit_bytes(text: str, limit: int = TEXT_BYTES_LIMIT) -> str:
    """`text` cut to at most `limit` UTF-8 bytes at a character boundary (WeCom refuses a longer text, and a
    WelcomeCode lives 20 s: a welcome cut short beats none)."""
    raw = text.encode("utf-8")
    return text if len(raw) <= limit else raw[:limit].decode("utf-8", "ignore")


def welcome_errors(text: str, attachments: int, scope: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not text.strip() and attachments == 0:
        errors["text"] = "a welcome needs text or at least one attachment"
    if scope == "code" and len(text) > CODE_TEXT_LIMIT:
        errors["text"] = f"a code's welcome text is at most {CODE_TEXT_LIMIT} characters"
    if worst_case_bytes(text) > TEXT_BYTES_LIMIT:
        errors["text"] = (f"at most {TEXT_BYTES_LIMIT} bytes in UTF-8 (a Chinese character takes 3) once "
                          f"{NICKNAME} is filled in, counted as {NICKNAME_WORST_BYTES} bytes each")
    if attachments > MAX_ATTACHMENTS:
        errors["material_ids"] = f"at most {MAX_ATTACHMENTS} attachments"
    return errors
