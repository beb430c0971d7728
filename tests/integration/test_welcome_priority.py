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
