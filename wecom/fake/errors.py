"""WeCom business errors as the fake answers them: an errcode and the errmsg WeCom pairs with it.

Its own module so the state and the pure rule modules (``corp_tags.py``) can raise them without importing
each other. ``wecom.fake.state`` re-exports both names.

Where an errcode comes from: docs/PROTOCOL.md, the endpoint's doc page, or WeCom's global errcode table (doc
90313, transcribed e.g. in zsmhub/workweixin's errcode constants). Errcodes for a limit that the docs state
but give no errcode for are guesses; the code that raises them says so.
"""

from __future__ import annotations

ERRMSG: dict[int, str] = {
    -1: "system busy",
    0: "ok",
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40032: "invalid userid list size",
    40050: "chatid not found",
    40058: "invalid parameter",
    40068: "invalid tagid",
    40071: "tag name exists",
    40096: "invalid external userid",
    40097: "the member has not resigned",
    40098: "the taker has not verified their identity",
    40100: "the customer is already being transferred",
    40126: "corp tag count exceeds the limit of 3000",
    40128: "the customer was transferred too often",
    41001: "access_token missing",
    41009: "missing userid",
    41035: "missing external_userid",
    41039: "invalid contact way type",
    41040: "invalid contact way scene",
    41041: "contact way has too many members",
    41042: "invalid contact way style",
    41043: "missing config_id",
    41044: "invalid config_id",
    41045: "too many contact ways created through the API",
    41049: "missing welcome_code",
    41050: "invalid welcome_code",
    41051: "externaluser has started chatting",
    41065: "invalid attachment type",
    41096: "welcome msg is being distributed",
    42001: "access_token expired",
    44004: "empty content",
    45002: "content size out of limit",
    45009: "api freq out of limit",
    47001: "data format error",
    60111: "userid not found",
    60123: "invalid department",
    81013: "user & party & tag all invalid",
    84061: "not external contact",
    301002: "not allow operate another agent with this accesstoken",
    # 微信客服 (kf): 95000/95004/95007/95017 as public SDK tables give them; the others from the global table
    # as far as we know it (kf_state.py says where the fake only guesses which one WeCom answers)
    95000: "invalid open_kfid",
    95001: "send msg count limit",
    95002: "send msg time limit",
    95004: "open_kfid not exist",
    95005: "kf account count exceed limit",
    95006: "invalid kf account name",
    95007: "invalid msg token",
    95013: "session already ended",
    95014: "user is not servicer",
    95016: "service state transition not allowed",
    95018: "send msg not allowed in current service state",
}
"""The errmsg WeCom pairs with each errcode the fake can answer (clients log errmsg, some match on it).
41051 and 41096 are quoted from doc 92599; the rest paraphrase the global table."""


class WeComError(Exception):
    """A WeCom business error; the server answers it as HTTP 200 ``{"errcode": N, "errmsg": ...}``."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "fake WeCom error")
        super().__init__(f"{self.errcode} {self.errmsg}")
