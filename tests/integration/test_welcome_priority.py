"""An add event carrying a WelcomeCode overtakes a backlog of other events (its welcome dies 20 s after the
event), yet keeps the events queue's retry patience, so a failing customer upsert is not given up early."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select

from integration.test_pipeline import db, post
from jobs.events import inbox_list
from jobs.queue import RETRY_INTERVALS
from models import Inbox
from support import CORP_ID
from wecom.fake.sender import render_sample

pytestmark = pytest.mark.integration

ADD = "change_external_contact/add_external_contact"
EDIT = "change_external_contact/edit_external_contact"


def queued(redis: Redis, name: str) -> list[Job]:
    return Queue(name, connection=redis).get_jobs()


def test_an_add_with_a_welcome_code_is_queued_ahead_of_the_backlog(service, redis_url, crypto, clean_db) -> None:
    redis = Redis.from_url(redis_url)
    for k in range(3):  # the backlog: no worker runs, so everything stays queued where the callback put it
        assert post(service, crypto, render_sample(EDIT, corp_id=CORP_ID, ExternalUserID=f"wmOld{k}",
                                                   UserID="zhangsan")).status_code == 200
    assert post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmNew", UserID="zhangsan",
                                               WelcomeCode="WELCOME-1")).status_code == 200
    assert post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmQuiet", UserID="zhangsan",
                                               WelcomeCode="")).status_code == 200

    with db(clean_db)() as s:  # ids as the DB gave them (MariaDB's auto-increment may not restart at 1)
        ids = [str(i).encode() for i in s.scalars(select(Inbox.id).order_by(Inbox.id))]
    # The add with a code waits on the `welcome` list, whose job is on the queue workers take first; the
    # others wait in line on the `events` list. One job per list, not one per callback.
    assert redis.lrange(inbox_list("welcome"), 0, -1) == ids[3:4]
    assert redis.lrange(inbox_list("events"), 0, -1) == ids[:3] + ids[4:]
    welcome, events_ = queued(redis, "welcome"), queued(redis, "events")
    assert [(j.func_name, j.args) for j in welcome] == [("jobs.events.process_inbox", ("welcome",))]
    assert [(j.func_name, j.args) for j in events_] == [("jobs.events.process_inbox", ("events",))]
    # The overtaking job retries like any event, not like a welcome message.
    assert welcome[0].retries_left == len(RETRY_INTERVALS["events"])
    assert welcome[0].retry_intervals == RETRY_INTERVALS["events"]
    assert welcome[0].meta["scrm_retry_as"] == "events"


def test_a_worker_inside_a_chunk_of_events_serves_a_waiting_welcome(
        service, spawn, service_env, redis_url, crypto, clean_db) -> None:
    """A worker busy with a chunk of events looks at the `welcome` list between its steps, so a welcome
    does not wait for the chunk to end: here the only worker listens on `events` alone, and the add with a
    WelcomeCode is processed all the same."""
    from integration.realparts import BIN, wait_for

    redis = Redis.from_url(redis_url)
    for k in range(3):
        assert post(service, crypto, render_sample(EDIT, corp_id=CORP_ID, ExternalUserID=f"wmOld{k}",
                                                   UserID="zhangsan")).status_code == 200
    assert post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmNew", UserID="zhangsan",
                                               WelcomeCode="WELCOME-1")).status_code == 200
    assert redis.llen(inbox_list("welcome")) == 1
    spawn("rq-events", [str(BIN / "rq"), "worker", "-u", redis_url, "-w", "jobs.worker.Worker", "--burst",
                        "events"], service_env)
    Session = db(clean_db)

    def all_processed() -> bool:
        with Session() as s:
            return set(s.scalars(select(Inbox.status))) == {"processed"}

    wait_for(all_processed, 60, "every row processed by the events worker")
    assert redis.llen(inbox_list("welcome")) == 0


# -- in this process, on a real Redis: what a welcome chunk hands on, and a batch serving waiting welcomes ----
@pytest.fixture
def on_redis(runtime, redis_url, monkeypatch) -> Redis:  # type: ignore[no-untyped-def]
    """The test's runtime with jobs going to RQ on the session's redis-server (nothing runs them: the test
    looks at what was queued, or calls a job itself, as a worker would)."""
    redis = Redis.from_url(redis_url)
    monkeypatch.setattr(runtime, "redis", redis)
    runtime._queues.clear()
    runtime._clients.clear()
    return redis


def stored_adds(runtime, fake_wecom, customers: list[str]) -> list[int]:  # type: ignore[no-untyped-def]
    """Adds of `customers` (each in the fake, following zhangsan) with a WelcomeCode the fake issued, stored
    `received` as the ingress leaves them for the `welcome` list."""
    from contact_support import issue_welcome_code
    from models import App

    fake_wecom.seed({"external_contacts": [
        {"corpid": CORP_ID, "external_contact": {"external_userid": c, "name": f"客户{c}", "type": 1},
         "follow_user": [{"userid": "zhangsan", "createtime": 1732000000, "tags": []}]} for c in customers]})
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalars(select(App.id).order_by(App.id)).first()
        rows = [Inbox(app_pk=app_pk, corp_id=CORP_ID, dedup_key=f"welcome-{c}", routing_key=ADD, status="received",
                      attempts=0, raw_xml=render_sample(ADD, corp_id=CORP_ID, ExternalUserID=c, UserID="zhangsan",
                                                        State="", WelcomeCode=issue_welcome_code(fake_wecom, "zhangsan", c)))
                for c in customers]
        s.add_all(rows)
        s.flush()
        return [row.id for row in rows]


def test_a_welcome_chunk_hands_its_profile_syncs_on_in_one_batch_job(runtime, fake_wecom, on_redis) -> None:  # type: ignore[no-untyped-def]
    """A chunk of the `welcome` list hands the profile fetches its events planned to the outbound queue as
    one deliver_batch (whose writes read the customers once), not a deliver_outbox job each; their attempt
    is counted by the chunk's own transaction, so the batch needs no write before its calls."""
    from jobs.events import process_inbox
    from jobs.outbound import deliver_batch
    from models import Outbox

    ids = stored_adds(runtime, fake_wecom, ["wmWelcomeA", "wmWelcomeB", "wmWelcomeC"])
    on_redis.rpush(inbox_list("welcome"), *ids)
    assert process_inbox("welcome") == "3 processed"
    with runtime.Session() as s:
        syncs = list(s.scalars(select(Outbox.id).where(Outbox.job == "sync_customer", Outbox.status == "pending")
                               .order_by(Outbox.id)))
        assert s.scalars(select(Inbox.status)).all() == ["processed"] * 3
        assert s.scalars(select(Outbox.attempts).where(Outbox.id.in_(syncs))).all() == [1, 1, 1]
    assert len(syncs) == 3
    assert [(j.func_name, j.args) for j in queued(on_redis, "outbound")] == [
        ("jobs.outbound.deliver_batch", ("outbound", syncs, True))]
    assert fake_wecom.calls("externalcontact/get") == []  # fetched by that job, not by the welcome chunk
    assert deliver_batch("outbound", syncs, True) == "3 delivered"
    with runtime.Session() as s:  # one attempt each: the batch did not count again
        assert s.execute(select(Outbox.status, Outbox.attempts).where(Outbox.id.in_(syncs))).all() == [
            ("done", 1)] * 3
    assert len(fake_wecom.calls("externalcontact/get")) == 3


def test_a_batch_of_effects_serves_the_welcomes_waiting_meanwhile(
        runtime, fake_wecom, on_redis, client, make_token) -> None:  # type: ignore[no-untyped-def]
    """A worker in a deliver_batch does not look at its queues: between the batch's WeCom calls and its
    writes it takes the waiting `welcome` chunk itself, so the customer is welcomed before the batch ends."""
    from contact_support import welcomes
    from jobs.outbound import deliver_batch
    from models import App, Outbox, WelcomeLog

    assert client.post("/api/v1/welcome-messages", json={"text": "欢迎光临"},
                       headers=make_token("super_admin")).status_code == 201
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id))
        rows = [Outbox(key=f"batch:{c}", corp_id=CORP_ID, job="sync_customer",
                       args={"app_pk": app_pk, "external_userid": c}) for c in ("wmCustomer0001", "wmCustomer0002")]
        s.add_all(rows)
        s.flush()
        batch = [row.id for row in rows]
    [inbox_id] = stored_adds(runtime, fake_wecom, ["wmWelcomeA"])
    on_redis.rpush(inbox_list("welcome"), inbox_id)
    assert deliver_batch("outbound", batch) == "2 delivered"
    assert on_redis.llen(inbox_list("welcome")) == 0
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status).where(Inbox.id == inbox_id)) == "processed"
        assert s.scalars(select(WelcomeLog.status)).all() == ["sent"]
        assert s.scalars(select(Outbox.status).where(Outbox.id.in_(batch))).all() == ["done", "done"]
    assert [(w["external_userid"], w["text"]) for w in welcomes(fake_wecom)] == [
        ("wmWelcomeA", {"content": "欢迎光临"})]
