"""In-memory state of the fake WeCom server.

The HTTP layer (``server.py``, ``endpoints_contact.py``) only translates requests and responses; everything
that several request threads share (seeded directory data, customer tags, welcome codes, contact ways, tokens,
rate windows, recorded calls, injected faults) lives here behind one lock, so tests that hammer the fake from
many threads still see consistent counts.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wecom.fake.corp_tags import CorpTag, CorpTagLibrary, NewTag, StrategyTagLibraries, TagGroup
from wecom.fake.directory import Directory, VisibleRange, department_ids
from wecom.fake.errors import ERRMSG, WeComError
from wecom.fake.group_codes import GroupCodesState
from wecom.fake.groups import GroupBook
from wecom.fake.transfers import TransfersState
from wecom.fake.groupmsg import GroupMsgState
from wecom.fake.stats import StatsState
from wecom.fake.kf_state import KfState
from wecom.fake.messages import AppMessages
from wecom.fake.media import MediaState
from wecom.fake.oauth import OAuthState
from wecom.fake.seed import SeedError, parse_seed

__all__ = ["ERRMSG", "FakeState", "SeedError", "WeComError"]  # re-exported from errors.py and seed.py

WINDOW_SECONDS = 60.0
"""WeCom's frequency limits are per rolling minute (doc 90454)."""

WELCOME_CODE_TTL = 20.0
"""A WelcomeCode is usable for 20 s after the add event, once (doc 92599)."""

MAX_CONTACT_WAY_MEMBERS = 100
"""A contact way reaches at most 100 members, departments expanded (global errcode table, 41041)."""

MAX_API_CONTACT_WAYS = 500_000
"""Contact ways a corp may create through the API (docs/PROTOCOL.md section 4; 41045 in the global table)."""


@dataclass
class Token:
    """An issued access_token: bound to one corp and one app (agentid), valid until ``expires_at``."""

    corpid: str
    agentid: int
    expires_at: float


@dataclass
class Fault:
    """An injected failure: after ``after`` more calls to a path pass untouched, the next ``remaining`` sleep
    ``delay`` s, then get ``errcode``."""

    errcode: int
    errmsg: str
    remaining: int
    delay: float
    after: int = 0


@dataclass
class Recipients:
    """message/send recipients after checking them against the corp's directory."""

    members: set[str]
    invalid: dict[str, str]  # response field ("invaliduser", ...) -> ids joined by "|"


@dataclass
class WelcomeCode:
    """A WelcomeCode from an add_external_contact event: one send, before ``expires_at`` (monotonic)."""

    code: str
    corpid: str
    userid: str
    external_userid: str
    expires_at: float
    used: bool = False


class FakeState:
    """Everything the fake WeCom remembers; every public method is thread-safe."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._corps: dict[str, dict[str, int]] = {}  # corpid -> secret -> agentid
        self._users: dict[tuple[str, str], dict[str, Any]] = {}
        self._departments: dict[tuple[str, int], dict[str, Any]] = {}
        self._externals: dict[tuple[str, str], dict[str, Any]] = {}
        self._tag_libraries: dict[str, CorpTagLibrary] = {}
        self._welcome_codes: dict[str, WelcomeCode] = {}
        self._welcomes: list[dict[str, Any]] = []
        self._contact_ways: dict[str, dict[str, Any]] = {}  # config_id -> way, with its corpid
        self._tokens: dict[str, Token] = {}
        self._ranges: dict[tuple[str, int], VisibleRange] = {}  # (corpid, agentid) -> what that app sees
        self._windows: dict[tuple[str, ...], deque[float]] = {}
        self._faults: dict[str, Fault] = {}
        self._calls: list[dict[str, Any]] = []
        self._next_seq = 1
        self.kf = KfState()  # customer service (微信客服): its own lock and tables, see kf_state.py
        self.messages = AppMessages()  # app messages delivered, dropped, suppressed: see messages.py
        self.strategy_tags = StrategyTagLibraries()  # rule-group tags, apart from the corp library
        self.group_codes = GroupCodesState()  # group join ways and welcome templates: see group_codes.py
        self.oauth = OAuthState()  # web sign-in codes and JS-SDK tickets: see oauth.py
        self.groups = GroupBook()  # customer groups and their callback targets: see groups.py
        self.media = MediaState()  # temporary media (media/upload): see media.py
        self.transfers = TransfersState()  # hand-overs (客户继承): see transfers.py
        self.groupmsg = GroupMsgState()  # corp mass messages (企业群发): see groupmsg.py
        self.stats = StatsState()  # daily figures (统计管理): see stats.py
        if seed:
            self.seed(seed)

    def reset(self) -> None:
        """Forget seeds, everything created through the API, faults, calls and rate windows, so one test's
        data cannot leak into the next. Issued tokens stay valid, as a real corp's would across a test boundary."""
        with self._lock:
            for table in (self._corps, self._users, self._departments, self._externals, self._tag_libraries,
                          self._welcome_codes, self._welcomes, self._contact_ways, self._windows, self._faults,
                          self._calls, self._ranges):
                table.clear()
        self.kf.reset()
        self.messages.reset()
        self.strategy_tags.reset()
        self.group_codes.reset()
        self.oauth.reset()
        self.groups.reset()
        self.media.reset()
        self.transfers.reset()
        self.groupmsg.reset()
        self.stats.reset()

    # -- seed data ---------------------------------------------------------------------------------------

    def seed(self, data: Any) -> None:
        """Merge seed data (a dict shaped like the body of POST /fake/seed).

        Corps gain secrets; users, departments and external contacts are upserted (replaced whole) by their ids.

        The whole payload is validated first, so a typo fails loudly instead of half-seeding the fake.
        """
        parsed = parse_seed(data)
        with self._lock:
            known = set(self._corps) | {corpid for corpid, _ in parsed.corps}
            records = parsed.users + parsed.externals + parsed.departments
            for corpid in {record["corpid"] for record in records} - known:
                raise SeedError(f"seed refers to corpid {corpid!r}, not seeded here or before")
            for corpid, secret_map in parsed.corps:
                self._corps.setdefault(corpid, {}).update(secret_map)
            for user in parsed.users:
                self._users[(user["corpid"], user["userid"])] = user
            for dept in parsed.departments:
                self._departments[(dept.pop("corpid"), dept["id"])] = dept
            for record in parsed.externals:
                external_userid = record["external_contact"]["external_userid"]
                self._externals[(record["corpid"], external_userid)] = record

    # -- directory ---------------------------------------------------------------------------------------

    def set_visible_range(self, corpid: str, agentid: int, users: list[str], parties: list[int]) -> None:
        """Limit what the app ``agentid`` sees of the corp's directory (see ``directory.VisibleRange``)."""
        with self._lock:
            self._ranges[(corpid, agentid)] = VisibleRange(frozenset(users), frozenset(parties))

    def user(self, corpid: str, userid: str, agentid: int | None = None) -> dict[str, Any] | None:
        """A copy of the member's user/get fields (without our ``corpid`` key), or None if unknown; 60011 if
        the member exists but is outside the visible range of the app ``agentid``."""
        with self._lock:
            user = self._users.get((corpid, userid))
            if user is None:
                return None
            visible = self._ranges.get((corpid, agentid or 0))
            if visible is not None:
                visible.check_member(self._directory(corpid), userid)
            return _without_corpid(user)

    def departments(self, corpid: str, root: int | None = None, agentid: int | None = None) -> list[dict[str, Any]]:
        """department/list: the corp's seeded departments, or ``root`` and those below it (60123 if unknown),
        only those in the visible range of the app ``agentid`` (60011 for a ``root`` outside it).

        Departments members name but nobody seeded have no name, so they are not listed here.
        """
        with self._lock:
            directory = self._directory(corpid)
            shown = directory.departments
            if root is not None:
                if root not in {dept["id"] for dept in shown}:
                    raise WeComError(60123)
                subtree = directory.subtree(root)
                shown = [dept for dept in shown if dept["id"] in subtree]
            visible = self._ranges.get((corpid, agentid or 0))
            if visible is not None:
                if root is not None:
                    visible.check_department(directory, root)
                in_range = visible.departments(directory)
                shown = [dept for dept in shown if dept["id"] in in_range]
            return copy.deepcopy(shown)

    def members(self, corpid: str, department_id: int, agentid: int | None = None) -> list[dict[str, Any]]:
        """user/list: copies of the members directly in a department (doc 96260 has no fetch_child), 60123 if
        unknown, 60011 if it is outside the visible range of the app ``agentid``."""
        with self._lock:
            directory = self._directory(corpid)
            if department_id not in directory.known():
                raise WeComError(60123)
            visible = self._ranges.get((corpid, agentid or 0))
            if visible is not None:
                visible.check_department(directory, department_id)
            userids = directory.members_of([department_id], with_children=False)
            return [_without_corpid(user) for (user_corp, userid), user in self._users.items()
                    if user_corp == corpid and userid in userids]

    def remove_user(self, corpid: str, userid: str) -> None:
        """The member leaves the corp (user/delete in the admin console): user/get answers 60111 from now on."""
        with self._lock:
            if self._users.pop((corpid, userid), None) is None:
                raise ValueError(f"no member {userid!r} in {corpid!r}")

    def resolve_recipients(self, corpid: str, users: list[str], parties: list[str],
                           tags: list[str]) -> Recipients:
        """Who gets a message, and which of the given ids WeCom would report as invalid.

        ``users`` must be members of the corp (``["@all"]`` means everyone). A party is valid if it is a
        known department (seeded, or named by a member) and reaches the members of its subtree. The fake has
        no member tags, so every tag id is invalid.
        """
        with self._lock:
            directory = self._directory(corpid)
        corp_members = set(directory.member_departments)
        if users == ["@all"]:
            return Recipients(members=corp_members, invalid={"invaliduser": ""})
        known_parties = {str(dept_id) for dept_id in directory.known()}
        members = {user for user in users if user in corp_members}
        members |= directory.members_of(int(party) for party in parties if party in known_parties)
        invalid = {"invaliduser": "|".join(user for user in users if user not in corp_members)}
        if parties:
            invalid["invalidparty"] = "|".join(party for party in parties if party not in known_parties)
        if tags:
            invalid["invalidtag"] = "|".join(tags)
        return Recipients(members=members, invalid=invalid)

    def _directory(self, corpid: str) -> Directory:
        """The corp's departments and membership (caller holds the lock; records are shared, not copied)."""
        departments = [dept for (dept_corp, _), dept in self._departments.items() if dept_corp == corpid]
        members = {userid: department_ids(user.get("department"))
                   for (user_corp, userid), user in self._users.items() if user_corp == corpid}
        return Directory(departments=departments, member_departments=members)

    # -- customers and their tags ------------------------------------------------------------------------

    def external_contact(self, corpid: str, external_userid: str) -> dict[str, Any] | None:
        """A copy of ``{"external_contact": ..., "follow_user": [...]}``, or None if not a customer."""
        with self._lock:
            record = self._externals.get((corpid, external_userid))
            if record is None:
                return None
            return copy.deepcopy({"external_contact": record["external_contact"],
                                  "follow_user": record["follow_user"]})

    def corp_tags(self, corpid: str, tag_ids: list[str], group_ids: list[str]) -> list[dict[str, Any]]:
        """get_corp_tag_list (see :meth:`CorpTagLibrary.list`)."""
        with self._lock:
            return self._tag_library(corpid).list(tag_ids, group_ids)

    def add_corp_tags(self, corpid: str, group_id: str | None, group_name: str | None, group_order: int,
                      tags: list[NewTag]) -> dict[str, Any]:
        """add_corp_tag: the group the tags went into, showing only the new tags."""
        with self._lock:
            return self._tag_library(corpid).add(group_id, group_name, group_order, tags, int(time.time()))

    def edit_corp_tag(self, corpid: str, item_id: str, name: str | None, order: int | None) -> None:
        """edit_corp_tag; customers marked with the tag show its new name in externalcontact/get."""
        with self._lock:
            self._tag_library(corpid).edit(item_id, name, order)
            self._sync_marked_tags(corpid, removed=set())

    def delete_corp_tags(self, corpid: str, tag_ids: list[str], group_ids: list[str]) -> None:
        """del_corp_tag; the deleted tags also disappear from every customer they were marked on."""
        with self._lock:
            removed = self._tag_library(corpid).delete(tag_ids, group_ids)
            self._sync_marked_tags(corpid, removed)

    def mark_tag(self, corpid: str, userid: str, external_userid: str, add: list[str],
                 remove: list[str]) -> None:
        """mark_tag: edit the corp tags ``userid`` has on their customer (doc 92697).

        84061 unless ``userid`` follows that customer; 40068 for any id that is not a current corp tag.
        Adding a tag twice keeps one entry; a tag both added and removed ends up removed.
        """
        with self._lock:
            follow = self._follow_user(corpid, userid, external_userid)
            library = self._tag_library(corpid)
            found = {tag_id: library.find_tag(tag_id) for tag_id in add + remove}
            hits = {tag_id: hit for tag_id, hit in found.items() if hit is not None}
            if len(hits) < len(found):
                raise WeComError(40068)
            removed = set(remove)
            tags = [tag for tag in follow.get("tags", []) if tag.get("tag_id") not in removed]
            present = {tag.get("tag_id") for tag in tags} | removed
            for tag_id in dict.fromkeys(add):
                if tag_id not in present:
                    tags.append(_marked_tag(*hits[tag_id]))
            follow["tags"] = tags

    def _tag_library(self, corpid: str) -> CorpTagLibrary:
        """The corp's tag library, created empty on first use (caller holds the lock)."""
        return self._tag_libraries.setdefault(corpid, CorpTagLibrary())

    def _follow_user(self, corpid: str, userid: str, external_userid: str) -> dict[str, Any]:
        """The live follow_user entry linking member and customer, or 84061 (caller holds the lock)."""
        record = self._externals.get((corpid, external_userid))
        follow = next((f for f in record["follow_user"] if f.get("userid") == userid), None) if record else None
        if follow is None:
            raise WeComError(84061)
        return follow

    def _sync_marked_tags(self, corpid: str, removed: set[str]) -> None:
        """Bring customers' corp tags in line with the library: drop ``removed`` ids, refresh names (caller
        holds the lock). Tags the library never issued (seeded, or personal ones) are left alone."""
        library = self._tag_library(corpid)
        for (record_corp, _), record in self._externals.items():
            if record_corp != corpid:
                continue
            for follow in record["follow_user"]:
                if "tags" in follow:
                    kept = [tag for tag in follow["tags"] if tag.get("tag_id") not in removed]
                    follow["tags"] = [_refreshed_tag(tag, library) for tag in kept]

    # -- welcome codes -----------------------------------------------------------------------------------

    def issue_welcome_code(self, corpid: str, userid: str, external_userid: str, ttl: float,
                           code: str | None = None) -> str:
        """Issue the WelcomeCode an add_external_contact event would carry; ValueError for a bad request."""
        with self._lock:
            return self._issue_welcome_code(corpid, userid, external_userid, ttl, code)

    def check_welcome_code(self, corpid: str, code: str) -> None:
        """Raise what send_welcome_msg would answer for ``code`` now, without using it up."""
        with self._lock:
            self._live_welcome_code(corpid, code)

    def send_welcome(self, corpid: str, code: str, text: dict[str, Any] | None,
                     attachments: list[dict[str, Any]]) -> None:
        """Use up ``code`` and record the welcome; checked again here, so of two racing sends one gets 41051."""
        with self._lock:
            welcome = self._live_welcome_code(corpid, code)
            welcome.used = True
            self._welcomes.append({"code": code, "corpid": corpid, "userid": welcome.userid,
                                   "external_userid": welcome.external_userid, "text": copy.deepcopy(text),
                                   "attachments": copy.deepcopy(attachments), "at": time.time()})

    def welcomes(self) -> list[dict[str, Any]]:
        """The welcome messages delivered so far, in order."""
        with self._lock:
            return copy.deepcopy(self._welcomes)

    def _issue_welcome_code(self, corpid: str, userid: str, external_userid: str, ttl: float,
                            code: str | None) -> str:
        """(caller holds the lock)"""
        if corpid not in self._corps:
            raise ValueError(f"corpid {corpid!r} is not seeded")
        if code is None:
            code = secrets.token_urlsafe(24)
        if code in self._welcome_codes:
            raise ValueError(f"welcome code {code!r} was already issued")
        self._welcome_codes[code] = WelcomeCode(code=code, corpid=corpid, userid=userid,
                                                external_userid=external_userid,
                                                expires_at=time.monotonic() + ttl)
        return code

    def _live_welcome_code(self, corpid: str, code: str) -> WelcomeCode:
        """``code`` if it can still be sent (caller holds the lock).

        Used → 41051 (doc 92599: the welcome was delivered; don't retry). Unknown, another corp's, or past
        its TTL → 41050, which the global errcode table names 无效的欢迎语code and explains by the 20 s
        validity; the errmsg tells expired from unknown.
        """
        welcome = self._welcome_codes.get(code)
        if welcome is None or welcome.corpid != corpid:
            raise WeComError(41050)
        if welcome.used:
            raise WeComError(41051)
        if time.monotonic() >= welcome.expires_at:
            raise WeComError(41050, "invalid welcome_code: expired")
        return welcome

    # -- contact ways (联系我) -----------------------------------------------------------------------------

    def add_contact_way(self, corpid: str, way: dict[str, Any],
                        qr_url: Callable[[str], str] = "https://fake.invalid/qr/{}.png".format) -> dict[str, Any]:
        """add_contact_way for an already well-formed ``way``: check its members, store it, return a copy
        with ``config_id`` (and ``qr_code``, ``qr_url(config_id)``, for scene 2: WeCom only makes QR codes
        for that scene)."""
        with self._lock:
            if sum(1 for stored in self._contact_ways.values() if stored["corpid"] == corpid) \
                    >= MAX_API_CONTACT_WAYS:
                raise WeComError(41045)
            self._check_way_members(corpid, way)
            config_id = secrets.token_hex(16)
            stored = {"corpid": corpid, "config_id": config_id, **copy.deepcopy(way)}
            if way["scene"] == 2:
                stored["qr_code"] = qr_url(config_id)
            self._contact_ways[config_id] = stored
            return _without_corpid(stored)

    def contact_way(self, corpid: str, config_id: str) -> dict[str, Any]:
        """get_contact_way: a copy of the way, 41044 if the corp has no such config_id."""
        with self._lock:
            return _without_corpid(self._contact_way(corpid, config_id))

    def update_contact_way(self, corpid: str, config_id: str, way: dict[str, Any]) -> None:
        """update_contact_way with the full, already merged and well-formed way."""
        with self._lock:
            stored = self._contact_way(corpid, config_id)
            self._check_way_members(corpid, way)
            stored.update(copy.deepcopy(way))

    def delete_contact_way(self, corpid: str, config_id: str) -> None:
        """del_contact_way; 41044 if the corp has no such config_id."""
        with self._lock:
            self._contact_way(corpid, config_id)
            del self._contact_ways[config_id]

    def contact_ways(self) -> list[dict[str, Any]]:
        """Every stored contact way of every corp (with ``corpid``), for GET /fake/contact_ways."""
        with self._lock:
            return copy.deepcopy(list(self._contact_ways.values()))

    def scan_contact_way(self, config_id: str, external_userid: str, name: str | None,
                         welcome_code_ttl: float) -> dict[str, Any]:
        """A customer scans the way's QR code and is added at once (skip_verify is not simulated).

        Routing: a single-person way (type 1) goes to its user; a multi-person way (type 2) goes to the FIRST
        of its users (or, with only departments, the first of their members by userid). Real WeCom picks
        among them itself; a service that wants rotation rewrites the user list with update_contact_way.

        The customer (created if unknown) gains a follow_user for that member carrying the way's ``state``,
        and a WelcomeCode is issued as the add_external_contact event would carry. ValueError if the way is
        unknown, has nobody to route to, or the customer already follows that member.
        """
        with self._lock:
            way = self._contact_ways.get(config_id)
            if way is None:
                raise ValueError(f"no contact way {config_id!r}")
            corpid = way["corpid"]
            userid = self._route(way)
            record = self._externals.setdefault((corpid, external_userid), _new_customer(
                corpid, external_userid, name))
            if any(follow.get("userid") == userid for follow in record["follow_user"]):
                raise ValueError(f"{external_userid!r} is already a customer of {userid!r}")
            record["follow_user"].append(_new_follow_user(userid, way["state"]))
            code = self._issue_welcome_code(corpid, userid, external_userid, welcome_code_ttl, None)
            return {"userid": userid, "external_userid": external_userid, "state": way["state"],
                    "welcome_code": code}

    def _contact_way(self, corpid: str, config_id: str) -> dict[str, Any]:
        """The stored way (caller holds the lock); 41044 (global table: 无效的「联系我」config_id参数)."""
        way = self._contact_ways.get(config_id)
        if way is None or way["corpid"] != corpid:
            raise WeComError(41044)
        return way

    def _check_way_members(self, corpid: str, way: dict[str, Any]) -> None:
        """At most 100 people with departments expanded (41041); users must be members (60111, a guess
        at WeCom's errcode) and parties departments (60123, likewise) of the corp. Caller holds the lock."""
        directory = self._directory(corpid)
        people = set(way["user"]) | directory.members_of(way["party"])
        if len(people) > MAX_CONTACT_WAY_MEMBERS:
            raise WeComError(41041)
        if any(userid not in directory.member_departments for userid in way["user"]):
            raise WeComError(60111)
        if any(party not in directory.known() for party in way["party"]):
            raise WeComError(60123)

    def _route(self, way: dict[str, Any]) -> str:
        """The member a scan of ``way`` reaches (see :meth:`scan_contact_way`; caller holds the lock)."""
        if way["user"]:
            return str(way["user"][0])
        members = sorted(self._directory(way["corpid"]).members_of(way["party"]))
        if not members:
            raise ValueError(f"contact way {way['config_id']!r} has nobody to route to")
        return members[0]

    # -- tokens ------------------------------------------------------------------------------------------

    def agents(self, corpid: str) -> set[int] | None:
        """The agent ids of the corp's apps; None for a corp the fake does not know."""
        with self._lock:
            apps = self._corps.get(corpid)
            return None if apps is None else set(apps.values())

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

    def _window(self, key: tuple[str, ...], now: float) -> deque[float]:
        """The timestamps under ``key`` from the last minute (caller holds the lock)."""
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        return window

    # -- injected faults ---------------------------------------------------------------------------------

    def set_fault(self, path: str, errcode: int, count: int, delay: float, errmsg: str | None = None,
                  after: int = 0) -> None:
        """Make the next ``count`` calls to ``path`` fail (or, with errcode 0, merely slow down), once
        ``after`` calls have passed (a failure part-way through a job's calls)."""
        with self._lock:
            self._faults[path] = Fault(errcode=errcode, errmsg=errmsg or ERRMSG.get(errcode, "fake fault"),
                                       remaining=count, delay=delay, after=after)

    def take_fault(self, path: str) -> Fault | None:
        """Use up one injected failure for ``path``, if any is left."""
        with self._lock:
            fault = self._faults.get(path)
            if fault is None:
                return None
            if fault.after > 0:
                fault.after -= 1
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


def _without_corpid(record: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a stored record minus the ``corpid`` key the fake files it under."""
    return {key: copy.deepcopy(value) for key, value in record.items() if key != "corpid"}


def _marked_tag(group: TagGroup, tag: CorpTag) -> dict[str, Any]:
    """A corp tag as externalcontact/get lists it in follow_user[].tags (type 1 = 企业标签)."""
    return {"group_name": group.group_name, "tag_name": tag.name, "tag_id": tag.id, "type": 1}


def _refreshed_tag(entry: dict[str, Any], library: CorpTagLibrary) -> dict[str, Any]:
    """``entry`` with current names if it is one of the library's corp tags, else unchanged."""
    hit = library.find_tag(entry.get("tag_id", "")) if entry.get("type") == 1 else None
    return entry if hit is None else _marked_tag(*hit)


def _new_customer(corpid: str, external_userid: str, name: str | None) -> dict[str, Any]:
    """The record of a WeChat user who first becomes a customer by scanning a contact way."""
    return {"corpid": corpid,
            "external_contact": {"external_userid": external_userid, "name": name or external_userid,
                                 "type": 1, "gender": 0, "avatar": ""},
            "follow_user": []}


def _new_follow_user(userid: str, state: str) -> dict[str, Any]:
    """A follow_user entry as WeCom shows it after a QR-code add (add_way 1); ``state`` only if the way set
    one, as WeCom omits it otherwise."""
    follow: dict[str, Any] = {"userid": userid, "remark": "", "description": "", "createtime": int(time.time()),
                              "tags": [], "remark_mobiles": [], "add_way": 1}
    if state:
        follow["state"] = state
    return follow
