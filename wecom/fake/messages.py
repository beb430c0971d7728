"""App messages (message/send) as WeCom delivers them: per member budget, duplicate check, unlicensed members.

Doc 90454: "每应用对同一个成员不可超过30次/分钟,1000次/小时,超过部分会被丢弃不下发" — the excess is dropped
and message/send still answers errcode 0. The fake does exactly that and records what it delivered, dropped
and suppressed, so a test can see a message that WeCom would silently have lost (GET /fake/app_messages).

With `enable_duplicate_check` 1, the same message to the same member within `duplicate_check_interval`
seconds (default 1800) is not shown again (doc 90236). Members marked unlicensed (POST /fake/unlicensed)
are listed in the answer's `unlicenseduser` and get nothing.

The minute is `window_seconds` long (60; tests shorten it through POST /fake/message_limits) and the hour
60 of them, so a test can watch several windows pass in seconds.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from typing import Any

from wecom.fake.errors import WeComError

PER_MINUTE, PER_HOUR = 30, 1000
DEFAULT_DUPLICATE_INTERVAL = 1800
MAX_TOUSER = 1000
"""`touser` names at most 1,000 members (doc 90236). The doc gives the cap, not the errcode past it: 40032
(不合法的UserID列表长度, whose help page names the send-message API) is the fake's guess."""


def check_touser(message: dict[str, Any]) -> None:
    """40032 for a `touser` of more than MAX_TOUSER members ("a|b|c")."""
    if len([part for part in str(message.get("touser") or "").split("|") if part]) > MAX_TOUSER:
        raise WeComError(40032)


class AppMessages:
    """Who got which app message; thread-safe."""

    def __init__(self, window_seconds: float = 60.0) -> None:
        self._lock = threading.Lock()
        self.window_seconds = window_seconds
        self._sent: dict[tuple[str, int, str], deque[float]] = {}  # (corp, agent, member) -> delivery times
        self._last_shown: dict[tuple[str, int, str, str], float] = {}  # ... + message fingerprint -> time
        self._unlicensed: set[tuple[str, str]] = set()
        self._log: dict[str, list[dict[str, Any]]] = {"delivered": [], "dropped": [], "duplicate": []}

    def reset(self) -> None:
        """Forget everything (the window length stays as configured)."""
        with self._lock:
            self._sent.clear()
            self._last_shown.clear()
            self._unlicensed.clear()
            for entries in self._log.values():
                entries.clear()

    def set_window(self, seconds: float) -> None:
        """Length of WeCom's minute (the hour is 60 of them)."""
        with self._lock:
            self.window_seconds = seconds

    def mark_unlicensed(self, corpid: str, userids: list[str]) -> None:
        """These members have no licence (未激活/无接口许可): WeCom lists them in `unlicenseduser`."""
        with self._lock:
            self._unlicensed |= {(corpid, userid) for userid in userids}

    def deliver(self, corpid: str, agentid: int, members: set[str], message: dict[str, Any]) -> list[str]:
        """Deliver `message` to each member its budget allows, drop it for the others; returns the members
        WeCom would list as unlicensed."""
        now = time.monotonic()
        fingerprint = json.dumps({k: v for k, v in message.items() if k not in ("touser", "toparty", "totag")},
                                 sort_keys=True, ensure_ascii=False)
        check = bool(message.get("enable_duplicate_check"))
        interval = float(message.get("duplicate_check_interval") or DEFAULT_DUPLICATE_INTERVAL)
        with self._lock:
            unlicensed = sorted(m for m in members if (corpid, m) in self._unlicensed)
            for member in sorted(set(members) - set(unlicensed)):
                outcome = self._outcome(corpid, agentid, member, fingerprint, check, interval, now)
                self._log[outcome].append({"corpid": corpid, "agentid": agentid, "userid": member,
                                           "message": copy.deepcopy(message), "at": time.time()})
            return unlicensed

    def _outcome(self, corpid: str, agentid: int, member: str, fingerprint: str, check: bool, interval: float,
                 now: float) -> str:
        """delivered, dropped (over budget: not counted, never shown) or duplicate (caller holds the lock)."""
        shown_key = (corpid, agentid, member, fingerprint)
        if check and now - self._last_shown.get(shown_key, -interval - 1) < interval:
            return "duplicate"
        sent = self._sent.setdefault((corpid, agentid, member), deque())
        hour = self.window_seconds * 60
        while sent and sent[0] <= now - hour:
            sent.popleft()
        last_minute = sum(1 for at in sent if at > now - self.window_seconds)
        if last_minute >= PER_MINUTE or len(sent) >= PER_HOUR:
            return "dropped"
        sent.append(now)
        self._last_shown[shown_key] = now
        return "delivered"

    def log(self) -> dict[str, list[dict[str, Any]]]:
        """Copies of what was delivered, dropped and suppressed as a duplicate, each in order."""
        with self._lock:
            return copy.deepcopy(self._log)
