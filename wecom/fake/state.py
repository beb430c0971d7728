"""In-memory state of the fake WeCom server.

The HTTP layer (``server.py``) only translates requests and responses; everything that several request
threads share (seeded directory data, tokens, rate windows, recorded calls, injected faults) lives here
behind one lock, so tests that hammer the fake from many threads still see consistent counts.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

WINDOW_SECONDS = 60.0
"""WeCom's frequency limits are per rolling minute (doc 90454)."""

MEMBER_MESSAGES_PER_MINUTE = 30
"""WeCom delivers at most 30 app messages per minute to one member (doc 90454)."""

ERRMSG: dict[int, str] = {
    -1: "system busy",
    0: "ok",
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40058: "invalid parameter",
    41001: "access_token missing",
    41009: "missing userid",
    42001: "access_token expired",
    44004: "empty content",
    45009: "api freq out of limit",
    47001: "data format error",
    60111: "userid not found",
    81013: "user & party & tag all invalid",
    84061: "not external contact",
    301002: "not allow operate another agent with this accesstoken",
}
"""The errmsg WeCom pairs with each errcode the fake can answer (clients log errmsg, some match on it)."""

_SEED_KEYS = frozenset({"corps", "users", "external_contacts"})


class WeComError(Exception):
    """A WeCom business error; the server answers it as HTTP 200 ``{"errcode": N, "errmsg": ...}``."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "fake WeCom error")
        super().__init__(f"{self.errcode} {self.errmsg}")


class SeedError(ValueError):
    """Seed data has the wrong shape; raised before anything is applied, so a bad seed changes nothing."""


@dataclass
class Token:
    """An issued access_token: bound to one corp and one app (agentid), valid until ``expires_at``."""

    corpid: str
    agentid: int
    expires_at: float


@dataclass
class Fault:
    """An injected failure: the next ``remaining`` calls to a path sleep ``delay`` s, then get ``errcode``."""

    errcode: int
    errmsg: str
    remaining: int
    delay: float


@dataclass
class Recipients:
    """message/send recipients after checking them against the corp's directory."""

    members: set[str]
    invalid: dict[str, str]  # response field ("invaliduser", ...) -> ids joined by "|"


class FakeState:
    """Everything the fake WeCom remembers; every public method is thread-safe."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._corps: dict[str, dict[str, int]] = {}  # corpid -> secret -> agentid
        self._users: dict[tuple[str, str], dict[str, Any]] = {}
        self._externals: dict[tuple[str, str], dict[str, Any]] = {}
        self._tokens: dict[str, Token] = {}
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._faults: dict[str, Fault] = {}
        self._calls: list[dict[str, Any]] = []
        self._next_seq = 1
        if seed:
            self.seed(seed)

    def reset(self) -> None:
        """Forget seeds, faults, calls and rate windows, so one test's data cannot leak into the next.
        Issued tokens stay valid, as a real corp's would across a test boundary."""
        with self._lock:
            self._corps.clear()
            self._users.clear()
            self._externals.clear()
            self._windows.clear()
            self._faults.clear()
            self._calls.clear()

    # -- seed data ---------------------------------------------------------------------------------------

    def seed(self, data: Any) -> None:
        """Merge seed data (a dict shaped like the body of POST /fake/seed).

        Corps gain secrets; users and external contacts are upserted (replaced whole) by their ids.

        The whole payload is validated first, so a typo fails loudly instead of half-seeding the fake.
        """
        corps, users, externals = _parse_seed(data)
        with self._lock:
            known = set(self._corps) | {corpid for corpid, _ in corps}
            for corpid in {record["corpid"] for record in users + externals} - known:
                raise SeedError(f"seed refers to corpid {corpid!r}, not seeded here or before")
            for corpid, secret_map in corps:
                self._corps.setdefault(corpid, {}).update(secret_map)
            for user in users:
                self._users[(user["corpid"], user["userid"])] = user
            for record in externals:
                external_userid = record["external_contact"]["external_userid"]
                self._externals[(record["corpid"], external_userid)] = record

    def user(self, corpid: str, userid: str) -> dict[str, Any] | None:
        """A copy of the member's user/get fields (without our ``corpid`` key), or None if unknown."""
        with self._lock:
            user = self._users.get((corpid, userid))
            return None if user is None else {k: copy.deepcopy(v) for k, v in user.items() if k != "corpid"}

    def external_contact(self, corpid: str, external_userid: str) -> dict[str, Any] | None:
        """A copy of ``{"external_contact": ..., "follow_user": [...]}``, or None if not a customer."""
        with self._lock:
            record = self._externals.get((corpid, external_userid))
            if record is None:
                return None
            return copy.deepcopy({"external_contact": record["external_contact"],
                                  "follow_user": record["follow_user"]})

    def resolve_recipients(self, corpid: str, users: list[str], parties: list[str],
                           tags: list[str]) -> Recipients:
        """Who gets a message, and which of the given ids WeCom would report as invalid.

        ``users`` must be members of the corp (``["@all"]`` means everyone). A party id is valid if some
        member belongs to it directly (the fake has no department tree). The fake has no member tags, so
        every tag id is invalid.
        """
        with self._lock:
            departments = {userid: {str(dept) for dept in user.get("department", [])}
                           for (user_corp, userid), user in self._users.items() if user_corp == corpid}
        if users == ["@all"]:
            return Recipients(members=set(departments), invalid={"invaliduser": ""})
        known_parties = set().union(*departments.values())
        members = {user for user in users if user in departments}
        members |= {user for user, depts in departments.items() if depts & set(parties)}
        invalid = {"invaliduser": "|".join(user for user in users if user not in departments)}
        if parties:
            invalid["invalidparty"] = "|".join(party for party in parties if party not in known_parties)
        if tags:
            invalid["invalidtag"] = "|".join(tags)
        return Recipients(members=members, invalid=invalid)

    # -- tokens ------------------------------------------------------------------------------------------

    def issue_token(self, corpid: str, secret: str, ttl: int) -> tuple[str, Token]:
        """gettoken: a new token for the app behind ``secret``; older tokens stay valid until they expire."""
        with self._lock:
            apps = self._corps.get(corpid)
            if apps is None:
                raise WeComError(40013)
            if secret not in apps:
                raise WeComError(40001)
            value = secrets.token_urlsafe(48)  # 64 characters, like WeCom's opaque tokens
            token = Token(corpid=corpid, agentid=apps[secret], expires_at=time.time() + ttl)
            self._tokens[value] = token
            return value, token

    def resolve_token(self, value: str | None) -> Token:
        """The app a request acts as, or the WeCom error a real server would give for this token."""
        if not value:
            raise WeComError(41001)
        with self._lock:
            token = self._tokens.get(value)
            if token is None:
                raise WeComError(40014)
            if time.time() >= token.expires_at:
                raise WeComError(42001)
            return Token(token.corpid, token.agentid, token.expires_at)

    def expire_tokens(self) -> int:
        """Expire every issued token at once, to test a client's refresh-on-42001 path; returns how many."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = 0.0
            return len(self._tokens)

    # -- frequency limits --------------------------------------------------------------------------------

    def count_api_call(self, corpid: str, path: str, limit: int) -> bool:
        """Count a call in its (corp, path) minute window; False if that pushes it over ``limit``.

        Rejected calls count too: WeCom keeps blocking a client that keeps hammering.
        """
        now = time.monotonic()
        with self._lock:
            window = self._window(("api", corpid, path), now)
            window.append(now)
            return len(window) <= limit

    def admit_messages(self, corpid: str, userids: set[str]) -> bool:
        """Count one message to each member, unless one of them already had 30 this minute (then count none).

        A refused message is never delivered, so it does not use up the member's quota.
        """
        now = time.monotonic()
        with self._lock:
            windows = [self._window(("member", corpid, userid), now) for userid in userids]
            if any(len(window) >= MEMBER_MESSAGES_PER_MINUTE for window in windows):
                return False
            for window in windows:
                window.append(now)
            return True

    def _window(self, key: tuple[str, ...], now: float) -> deque[float]:
        """The timestamps under ``key`` from the last minute (caller holds the lock)."""
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        return window

    # -- injected faults ---------------------------------------------------------------------------------

    def set_fault(self, path: str, errcode: int, count: int, delay: float, errmsg: str | None = None) -> None:
        """Make the next ``count`` calls to ``path`` fail (or, with errcode 0, merely slow down)."""
        with self._lock:
            self._faults[path] = Fault(errcode=errcode, errmsg=errmsg or ERRMSG.get(errcode, "fake fault"),
                                       remaining=count, delay=delay)

    def take_fault(self, path: str) -> Fault | None:
        """Use up one injected failure for ``path``, if any is left."""
        with self._lock:
            fault = self._faults.get(path)
            if fault is None:
                return None
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[path]
            return fault

    def clear_faults(self) -> None:
        """Forget all injected failures."""
        with self._lock:
            self._faults.clear()

    # -- call log ----------------------------------------------------------------------------------------

    def record_call(self, entry: dict[str, Any]) -> None:
        """Append one /cgi-bin/ call to the log, numbering it; tests assert on what clients really sent."""
        with self._lock:
            self._calls.append({"seq": self._next_seq, **entry})
            self._next_seq += 1

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        """Recorded calls in order, optionally only those to ``path`` (e.g. ``"message/send"``)."""
        with self._lock:
            return [copy.deepcopy(call) for call in self._calls if path is None or call["path"] == path]

    def clear_calls(self) -> None:
        """Empty the call log; ``seq`` keeps counting so entries stay unambiguous across clears."""
        with self._lock:
            self._calls.clear()


_ParsedSeed = tuple[list[tuple[str, dict[str, int]]], list[dict[str, Any]], list[dict[str, Any]]]


def _parse_seed(data: Any) -> _ParsedSeed:
    """Validate a seed payload and return (corps, users, external contact records) as fresh copies."""
    if not isinstance(data, dict):
        raise SeedError("seed must be a JSON object")
    unknown = set(data) - _SEED_KEYS
    if unknown:
        raise SeedError(f"unknown seed keys {sorted(unknown)}; expected some of {sorted(_SEED_KEYS)}")
    data = copy.deepcopy(data)
    corps = [_parse_corp(corp) for corp in _records(data, "corps")]
    users = [_require(user, "users", "corpid", "userid") for user in _records(data, "users")]
    externals = [_parse_external(record) for record in _records(data, "external_contacts")]
    return corps, users, externals


def _records(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The list under ``key`` (empty if absent), checked to hold only objects."""
    records = data.get(key, [])
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise SeedError(f"{key!r} must be a list of objects")
    return records


def _require(record: dict[str, Any], where: str, *keys: str) -> dict[str, Any]:
    """``record`` itself, after checking that each of ``keys`` is a non-empty string."""
    for key in keys:
        if not isinstance(record.get(key), str) or not record[key]:
            raise SeedError(f"every entry of {where!r} needs a non-empty string {key!r}: {record!r}")
    return record


def _parse_corp(corp: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """(corpid, secret -> agentid) from a ``corps`` entry."""
    _require(corp, "corps", "corpid")
    secret_map = corp.get("secrets", {})
    if not isinstance(secret_map, dict) or not all(
            isinstance(secret, str) and isinstance(agentid, int) for secret, agentid in secret_map.items()):
        raise SeedError(f"corp {corp['corpid']!r}: 'secrets' must map secret strings to integer agentids")
    return corp["corpid"], secret_map


def _parse_external(record: dict[str, Any]) -> dict[str, Any]:
    """An ``external_contacts`` entry, with ``follow_user`` defaulting to an empty list."""
    _require(record, "external_contacts", "corpid")
    contact = record.get("external_contact")
    if not isinstance(contact, dict):
        raise SeedError(f"external contact entry needs an 'external_contact' object: {record!r}")
    _require(contact, "external_contacts[].external_contact", "external_userid")
    follow_user = record.setdefault("follow_user", [])
    if not isinstance(follow_user, list):
        raise SeedError(f"external contact {contact['external_userid']!r}: 'follow_user' must be a list")
    return record
