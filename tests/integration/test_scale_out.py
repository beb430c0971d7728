"""Scale-out (issue 18): four rq workers on two queue sets take a burst of callbacks while one is SIGKILLed
mid-burst and another joins; every callback is processed exactly once and none is lost.

Exactly once is read off the rows: a callback's inbox row counts its processing attempts in the
transaction that processes it (`attempts`), so a row processed twice shows 2, and a batch a killed worker
was inside rolled back with it (its rows still show 0 until another worker takes them).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from integration.realparts import BIN, wait_for
from integration.test_pipeline import db, post
from models import Customer, DeadLetter, Inbox
from support import CORP_ID
from wecom.fake.sender import render_sample

pytestmark = pytest.mark.integration

ADD = "change_external_contact/add_external_contact"
EDIT = "change_external_contact/edit_external_contact"
BURST = 240
WORKER = "jobs.worker.Worker"
URGENT_AND_ALL = ["welcome", "outbound", "events", "maintenance"]
EVENTS_ONLY = ["events", "outbound"]


def customer(k: int) -> str:
    return f"wmScale{k:05d}"


def test_workers_added_and_killed_mid_burst_lose_nothing_and_double_nothing(  # type: ignore[no-untyped-def]
        service, spawn, service_env, flask_cli, crypto, fake_wecom, clean_db) -> None:
    fake_wecom.seed({"external_contacts": [
        {"corpid": CORP_ID, "external_contact": {"external_userid": customer(k), "name": f"客户{k}", "type": 1},
         "follow_user": [{"userid": "zhangsan", "remark": "", "createtime": 1700000000, "tags": []}]}
        for k in range(BURST // 2)]})

    def worker(name: str, queues: list[str]):  # type: ignore[no-untyped-def]
        return spawn(name, [str(BIN / "rq"), "worker", "-u", service_env["REDIS_URL"], "--with-scheduler",
                            "-w", WORKER, *queues], service_env)

    # Two workers take every queue (the urgent `welcome` one first), two only the events backlog.
    workers = [worker("rq-all-1", URGENT_AND_ALL), worker("rq-all-2", URGENT_AND_ALL),
               worker("rq-events-1", EVENTS_ONLY), worker("rq-events-2", EVENTS_ONLY)]
    # Adds carry a WelcomeCode (urgent: the `welcome` queue), edits of the same customers follow them
    # (the `events` queue): both queues are busy at once.
    bodies = []
    for k in range(BURST // 2):
        bodies.append(render_sample(ADD, corp_id=CORP_ID, ExternalUserID=customer(k), UserID="zhangsan",
                                    WelcomeCode=f"WELCOME-{k}"))
        bodies.append(render_sample(EDIT, corp_id=CORP_ID, ExternalUserID=customer(k), UserID="zhangsan"))
    answers: list[int] = []

    def burst() -> None:
        for body in bodies:
            answers.append(post(service, crypto, body).status_code)

    poster = threading.Thread(target=burst)
    poster.start()
    Session = db(clean_db)

    def processed() -> int:
        with Session() as s:
            return s.scalar(select(func.count()).select_from(Inbox).where(Inbox.status != "received")) or 0

    wait_for(lambda: processed() >= BURST // 6, 120, "the workers to be into the burst")
    workers[0].kill()  # SIGKILL, whatever it holds: a batch in its transaction, ids taken from a list
    workers.append(worker("rq-all-3", URGENT_AND_ALL))  # a worker joins mid-burst
    poster.join(120)
    assert answers == [200] * BURST
    # Ids the killed worker had taken are in no list any more: the sweeper puts their rows back.
    wait_for(lambda: flask_cli("sweep", "--older-than", "0").returncode == 0 and processed() == BURST, 180,
             "every callback processed")

    with Session() as s:
        rows = s.execute(select(Inbox.status, Inbox.attempts)).all()
        assert len(rows) == BURST
        assert {status for status, _ in rows} <= {"processed", "unhandled"}
        assert [attempts for _, attempts in rows] == [1] * BURST  # each processed once, none twice
        assert s.scalar(select(func.count()).select_from(Customer)) == BURST // 2
        assert not s.scalars(select(DeadLetter.job).where(DeadLetter.job.like("process_%"))).all()
    for w in workers[1:]:
        assert w.proc.poll() is None, w.output()[-3000:]
