"""The fake's statistics endpoints (统计管理): externalcontact/get_user_behavior_data (联系客户统计, doc 92132),
externalcontact/groupchat/statistic (群聊数据统计 by owner) and groupchat/statistic_group_by_day (by day, doc
92133), answering from figures a test seeds with POST /fake/stats.

WeCom's days are China days: a time is rounded down to its 00:00 Beijing time, both ends are inclusive, and a
query spans at most 30 days. get_user_behavior_data takes at most 100 userids or partyids, not both empty
(several are one total, as WeCom sums them), and answers one entry per day; avg_reply_time and
reply_percentage only on days with chats. groupchat/statistic sums the range per owner (owner_filter at most
100; none: every owner seeded), ordered by order_by (1 new chats, 2 chats, 3 new members, 4 members; order_asc)
and paged by offset/limit (1 to 1000, default 500) with total and next_offset. The docs give no errcode for a
broken limit: 40058 (invalid parameter) is a guess, as for the other modules' limits."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from flask import Flask, request

from wecom.fake.call import Call, bad_request, body_object, corpid_of
from wecom.fake.errors import WeComError

DAY = 86400
CST = 8 * 3600  # WeCom's days start at 00:00 Beijing time
MAX_SPAN_DAYS = 30
MAX_IDS = 100
BEHAVIOR = ("chat_cnt", "message_cnt", "negative_feedback_cnt", "new_apply_cnt", "new_contact_cnt")
GROUP = ("new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total", "member_has_msg",
         "msg_total", "migrate_trainee_chat_cnt")
ORDER = {1: "new_chat_cnt", 2: "chat_total", 3: "new_member_cnt", 4: "member_total"}


def day_start(ts: int) -> int:
    """`ts` rounded down to its day's 00:00 Beijing time."""
    return (ts + CST) // DAY * DAY - CST


class StatsState:
    """Seeded daily figures by corp; its own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._behavior: dict[tuple[str, str, int], dict[str, Any]] = {}  # (corp, userid, day) -> figures
        self._groups: dict[tuple[str, str, int], dict[str, int]] = {}  # (corp, owner, day) -> figures

    def reset(self) -> None:
        with self._lock:
            self._behavior.clear()
            self._groups.clear()

    def seed(self, corpid: str, behavior: list[dict[str, Any]], groupchat: list[dict[str, Any]]) -> None:
        with self._lock:
            for row in behavior:
                self._behavior[(corpid, str(row["userid"]), day_start(int(row["stat_time"])))] = dict(row)
            for row in groupchat:
                self._groups[(corpid, str(row["owner"]), day_start(int(row["stat_time"])))] = dict(row["data"])

    def behavior(self, corpid: str, userids: list[str], day: int) -> dict[str, Any]:
        with self._lock:
            rows = [self._behavior[k] for u in userids if (k := (corpid, u, day)) in self._behavior]
        out: dict[str, Any] = {"stat_time": day, **{f: sum(int(r.get(f, 0)) for r in rows) for f in BEHAVIOR}}
        if out["chat_cnt"]:
            chatted = [r for r in rows if r.get("chat_cnt")]
            out["reply_percentage"] = round(sum(float(r.get("reply_percentage", 0)) for r in chatted) / len(chatted), 2)
            out["avg_reply_time"] = round(sum(int(r.get("avg_reply_time", 0)) for r in chatted) / len(chatted))
        return out

    def groups(self, corpid: str, owners: list[str] | None, days: list[int]) -> dict[tuple[str, int], dict[str, int]]:
        with self._lock:
            return {(o, d): dict(v) for (c, o, d), v in self._groups.items()
                    if c == corpid and d in days and (owners is None or o in owners)}


class _Server(Protocol):
    state: Any  # FakeState, whose `stats` is a StatsState


def _store(server: _Server) -> StatsState:
    store: StatsState = server.state.stats
    return store


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WeComError(40058, f"{key}: a number")
    return value


def _days(begin: int, end: int) -> list[int]:
    first, last = day_start(begin), day_start(end)
    if last < first or (last - first) // DAY >= MAX_SPAN_DAYS:
        raise WeComError(40058, f"a range of 1 to {MAX_SPAN_DAYS} days")
    return list(range(first, last + DAY, DAY))


def _ids(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key) or []
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise WeComError(40058, f"{key}: at most {MAX_IDS}")
    return value


def get_user_behavior_data(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    userids, parties = _ids(body, "userid"), _ids(body, "partyid")
    if not userids and not parties:
        raise WeComError(40058, "userid and partyid cannot both be empty")
    days = _days(_int(body, "start_time"), _int(body, "end_time"))
    return {"behavior_data": [_store(server).behavior(corpid_of(call), [str(u) for u in userids], d) for d in days]}


def _owners(body: dict[str, Any]) -> list[str] | None:
    found = body.get("owner_filter")
    if found is None:
        return None
    if not isinstance(found, dict):
        raise WeComError(40058, "owner_filter: an object")
    return [str(u) for u in _ids(found, "userid_list")] or None


def _sum(rows: list[dict[str, int]]) -> dict[str, int]:
    return {f: sum(int(r.get(f, 0)) for r in rows) for f in GROUP}


def groupchat_statistic(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    begin = _int(body, "day_begin_time")
    days = _days(begin, _int(body, "day_end_time", begin) or begin)
    order_by, asc = _int(body, "order_by", 1), _int(body, "order_asc", 0)
    offset, limit = _int(body, "offset", 0), _int(body, "limit", 500)
    if order_by not in ORDER or not 1 <= limit <= 1000:
        raise WeComError(40058, "order_by 1 to 4, limit 1 to 1000")
    per_owner: dict[str, list[dict[str, int]]] = {}
    for (owner, _), data in _store(server).groups(corpid_of(call), _owners(body), days).items():
        per_owner.setdefault(owner, []).append(data)
    sums = {o: _sum(rows) for o, rows in per_owner.items()}
    ordered = sorted(sums, key=lambda o: (sums[o][ORDER[order_by]] * (1 if asc else -1), o))
    items = [{"owner": o, "data": sums[o]} for o in ordered]
    page = items[offset:offset + limit]
    return {"total": len(items), "next_offset": offset + len(page), "items": page}


def groupchat_statistic_group_by_day(server: _Server, call: Call) -> dict[str, Any]:
    body = body_object(call)
    begin = _int(body, "day_begin_time")
    days = _days(begin, _int(body, "day_end_time", begin) or begin)
    found = _store(server).groups(corpid_of(call), _owners(body), days)
    return {"items": [{"stat_time": d, "data": _sum([v for (_, day), v in found.items() if day == d])} for d in days]}


ENDPOINTS = {
    "externalcontact/get_user_behavior_data": get_user_behavior_data,
    "externalcontact/groupchat/statistic": groupchat_statistic,
    "externalcontact/groupchat/statistic_group_by_day": groupchat_statistic_group_by_day,
}


def add_stats_control_routes(app: Flask, store: StatsState) -> None:
    """POST /fake/stats {corpid, behavior: [{userid, stat_time, chat_cnt, …}], groupchat: [{owner, stat_time,
    data: {new_chat_cnt, …}}]}: the figures WeCom answers."""

    @app.post("/fake/stats")
    def seed_stats() -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("corpid"), str):
            return bad_request("corpid required")
        try:
            store.seed(data["corpid"], list(data.get("behavior") or []), list(data.get("groupchat") or []))
        except (KeyError, TypeError, ValueError) as exc:
            return bad_request(f"bad figures: {exc}")
        return {"ok": True}
