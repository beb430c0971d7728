"""App messages (message/send) sent within each member's budget, never with agentid 0.

WeCom drops a member's messages beyond 30 a minute or 1,000 an hour per app without an error (doc 90454),
so each message first reserves a send time for its recipients (`rules.message_budget`). A message whose
time has come is sent; one that must wait is scheduled for its time (the outbox row's `next_attempt_at`, and
`deliver_outbox` enqueued for that time on RQ): waiting happens in the scheduler, never by sleeping in a
worker. Reservations are made in the order jobs run, so a member's messages keep their order; urgent kinds
find room first.

Where reservations live: with Redis, a sorted set per (app, member) of outbox id → send time, changed under
a per-app Redis lock, shared by every worker. Inline (no Redis), a dict in the process; a message that
must wait then stays pending until the sweeper (`flask --app app sweep`) finds it after its time.

Sends carry `enable_duplicate_check` (doc 90236), so a retried send WeCom already showed is not shown
twice; the answer's `unlicenseduser` (members without a licence, who got nothing) is recorded with
`invaliduser`. Every send, whoever planned it, is logged in `notifications_log` (`sent_to_staff`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, update

from jobs.outbound import EffectContext
from jobs.queue import FinalError, enqueue
from jobs.runtime import Runtime
from models import NotificationLog, Outbox
from rules.message_budget import Budget, common_slot
from rules.templates import logged_category
from wecom.client import WeComError

log = logging.getLogger(__name__)

NO_AGENT_ID = ("the app that sends staff messages has no agent id, and message/send needs one (agentid 0 is "
               "refused): set agent_id on the app (PATCH /api/v1/apps/<slug> or `apps add --agent-id`), then replay")


class SlotBook:
    """Reserved send times per (app, member): ticket (outbox id) → time. Subclasses store them."""

    def reserve(self, app_pk: int, userids: list[str], ticket: str, now: float, budget: Budget,
                urgent: bool) -> float:
        """The send time of `ticket` for all `userids`: its earlier reservation if it is still good (the job
        runs within `slack` of it), else the earliest time that fits each member's budget."""
        keys = [f"scrm:appmsg:{app_pk}:{userid}" for userid in sorted(set(userids))]
        with self._locked(app_pk):
            booked = {key: self._load(key, now - budget.horizon()) for key in keys}
            own = {slots.get(ticket) for slots in booked.values()}
            mine = next(iter(own)) if len(own) == 1 else None
            if mine is not None and now <= mine + budget.slack:
                return float(mine)
            others = [sorted(at for t, at in slots.items() if t != ticket) for slots in booked.values()]
            at = common_slot(others, now, budget, urgent)
            for key in keys:
                self._store(key, ticket, at, budget.horizon())
            return at

    @contextmanager
    def _locked(self, app_pk: int) -> Iterator[None]:
        raise NotImplementedError

    def _load(self, key: str, since: float) -> dict[str, float]:
        raise NotImplementedError

    def _store(self, key: str, ticket: str, at: float, keep: float) -> None:
        raise NotImplementedError


LOCK_POLL = 0.002
"""Seconds between two tries for a busy book's lock. It is held for three Redis round trips; redis-py's
default (0.1 s) made a burst of notifications wait about that long each (a batch with a 流失提醒 took
130 ms instead of 20 in the processing bench, whose lanes all wanted the app's lock at once)."""


class RedisSlots(SlotBook):
    """Shared by every process: a sorted set per member, scored by send time."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    @contextmanager
    def _locked(self, app_pk: int) -> Iterator[None]:
        with self.redis.lock(f"scrm:appmsg:{app_pk}:lock", timeout=10, blocking_timeout=10,
                             sleep=LOCK_POLL):
            yield

    def _load(self, key: str, since: float) -> dict[str, float]:
        self.redis.zremrangebyscore(key, "-inf", since)
        return {ticket.decode(): score for ticket, score in self.redis.zrange(key, 0, -1, withscores=True)}

    def _store(self, key: str, ticket: str, at: float, keep: float) -> None:
        with self.redis.pipeline() as pipe:
            pipe.zadd(key, {ticket: at})
            pipe.expire(key, int(at - time.time() + keep) + 1)
            pipe.execute()


class MemorySlots(SlotBook):
    """One process's book, for jobs run inline (no Redis, so no other process sends)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, dict[str, float]] = {}

    @contextmanager
    def _locked(self, app_pk: int) -> Iterator[None]:
        with self._lock:
            yield

    def _load(self, key: str, since: float) -> dict[str, float]:
        slots = self._slots.setdefault(key, {})
        for ticket in [t for t, at in slots.items() if at <= since]:
            del slots[ticket]
        return dict(slots)

    def _store(self, key: str, ticket: str, at: float, keep: float) -> None:
        self._slots.setdefault(key, {})[ticket] = at


def slot_book(runtime: Runtime) -> SlotBook:
    """The shared book on Redis, else this process's own."""
    if runtime.redis is not None:
        return RedisSlots(runtime.redis)
    return runtime.local.setdefault("app_message_slots", MemorySlots())


def send_app_message(ctx: EffectContext, agent_id: int | None, touser: list[str], msgtype: str,
                     body: dict[str, Any], urgent: bool = False) -> dict[str, Any] | None:
    """message/send once the recipients' budget allows: WeCom's answer, or None when the message waits
    (its job is scheduled for its send time and the row stays pending). No agent id is a FinalError."""
    if not agent_id:
        raise FinalError(NO_AGENT_ID)
    budget = Budget(float(ctx.runtime.settings.app_message_window_seconds))
    now = time.time()
    at = slot_book(ctx.runtime).reserve(ctx.app_pk, touser, str(ctx.outbox_id), now, budget, urgent)
    if at > now:
        _wait_until(ctx, at)
        return None
    return sent_to_staff(ctx, agent_id, touser, msgtype, body)


MAX_TOUSER = 1000
"""message/send takes at most 1,000 userids in `touser` (doc 90236; WeCom answers 40032 past that)."""
ALL_INVALID = 81013
"""message/send's answer when none of a call's recipients is valid."""


def sent_to_staff(ctx: EffectContext, agent_id: int, touser: list[str], msgtype: str, body: dict[str, Any],
                  toparty: list[int] | tuple[int, ...] = ()) -> Any:
    """message/send, and its answer in the notifications log: the one door every app message to staff
    goes through (`send_app_message` above, and jobs/moderation.py's alerts and broadcasts). A refusal
    retrying cannot fix is logged as failed with WeCom's errcode; a retryable one is logged by the attempt
    that finally gets an answer.

    Members past WeCom's 1,000 go out in calls of 1,000 (the departments with the first), one answer merged
    from theirs: invaliduser, unlicenseduser and invalidparty joined, the first call's msgid. Each call is
    logged as it is answered, so a retry after a failure part-way sends only to the members no logged call
    reached (the log is read back only for such a list; a message of one call needs no reading). A call
    whose members are all invalid (81013) lists them in invaliduser unless every call says so."""
    calls = [touser[at:at + MAX_TOUSER] for at in range(0, len(touser), MAX_TOUSER)] or [[]]
    answers = _logged_answers(ctx) if len(calls) > 1 else []
    reached = {userid for answer in answers for userid in answer.pop("touser")}
    for n, members in enumerate(calls):
        members = [userid for userid in members if userid not in reached]
        parties = toparty if n == 0 and not answers else ()
        if len(calls) > 1 and not members and not parties:  # an earlier attempt's call reached them all
            continue
        try:
            answer = ctx.client.send_app_message(agent_id, members, msgtype, body, parties)
        except WeComError as exc:
            if not exc.retryable:
                _log(ctx, members, parties, msgtype, {"errcode": exc.errcode, "errmsg": exc.errmsg})
                if exc.errcode == ALL_INVALID and len(calls) > 1:
                    answers.append({"invaliduser": "|".join(members)})
                    continue
            raise
        _log(ctx, members, parties, msgtype, answer)
        answers.append(answer)
    if len(calls) == 1:
        return answers[0]
    if not any(answer.get("msgid") for answer in answers):
        raise WeComError(ALL_INVALID, "no recipient of any call is valid", "message/send")
    return {"errcode": 0, "errmsg": "ok", "msgid": next(a["msgid"] for a in answers if a.get("msgid")),
            **{field: "|".join(part for a in answers for part in split_ids(a.get(field)))
               for field in ("invaliduser", "invalidparty", "unlicenseduser")}}


def _logged_answers(ctx: EffectContext) -> list[dict[str, Any]]:
    """The answers of this row's calls that earlier attempts logged (sent, partial, or wholly invalid), each
    with its `touser`: the members a retry must not send to again."""
    with ctx.runtime.Session() as s:
        logged = s.execute(select(NotificationLog).where(NotificationLog.outbox_id == ctx.outbox_id)
                           .order_by(NotificationLog.id)).scalars().all()
        return [{"touser": split_ids(row.recipients), "msgid": row.msgid, "invaliduser": "|".join(
                    split_ids(row.recipients) if row.errcode == ALL_INVALID else row.invalid_users),
                 "unlicenseduser": "|".join(row.unlicensed_users)}
                for row in logged if row.status != "failed" or row.errcode == ALL_INVALID]


def split_ids(raw: Any) -> list[str]:
    """WeCom's `a|b|c` lists (invaliduser, invalidparty, unlicenseduser) as a list."""
    return [part for part in str(raw or "").split("|") if part]


def _log(ctx: EffectContext, touser: list[str], toparty: list[int] | tuple[int, ...], msgtype: str,
         answer: dict[str, Any]) -> None:
    """One notifications_log row for this send: its category from the outbox row's key (rules.templates)."""
    errcode = answer.get("errcode") or None
    invalid, unlicensed = split_ids(answer.get("invaliduser")), split_ids(answer.get("unlicenseduser"))
    status = "failed" if errcode else "partial" if invalid or unlicensed or answer.get("invalidparty") else "sent"
    with ctx.runtime.WriteSession.begin() as s:
        key = s.scalar(select(Outbox.key).where(Outbox.id == ctx.outbox_id))
        s.add(NotificationLog(corp_id=ctx.corp_id, outbox_id=ctx.outbox_id, category=logged_category(key),
                              recipients="|" + "|".join(touser) + "|", parties=[int(p) for p in toparty],
                              msgtype=msgtype,
                              status=status, errcode=errcode, errmsg=str(answer.get("errmsg") or "")[:255],
                              msgid=str(answer.get("msgid") or "")[:128], invalid_users=invalid,
                              unlicensed_users=unlicensed))


def _wait_until(ctx: EffectContext, at: float) -> None:
    """Leave the row pending until `at`, and (on RQ) schedule its delivery then."""
    when = dt.datetime.fromtimestamp(at, dt.UTC)
    with ctx.runtime.WriteSession.begin() as s:
        s.execute(update(Outbox).where(Outbox.id == ctx.outbox_id).values(next_attempt_at=when)
                  .execution_options(synchronize_session=False))
        queue = s.get(Outbox, ctx.outbox_id).queue
    if ctx.runtime.redis is not None:
        enqueue("deliver_outbox", ctx.outbox_id, job_id=f"outbox-{ctx.outbox_id}-at-{int(at * 1000)}",
                queue=queue, delay=max(at - time.time(), 0.0))
    log.info("app message (outbox %s) waits %.1f s for the member's budget", ctx.outbox_id, at - time.time())


def answer_result(answer: dict[str, Any]) -> dict[str, Any]:
    """What an outbox row keeps of message/send's answer: the msgid and who did not get it."""
    return {"msgid": answer.get("msgid", ""), "invaliduser": answer.get("invaliduser", ""),
            "unlicenseduser": answer.get("unlicenseduser", "")}
