"""Workers and web under faults, with real processes: a Redis outage under a busy `rq worker`, a worker
SIGKILLed while WeCom calls wait for their retry, SQLite's write lock held by another process, and WeCom's
rate limit (45009) against 45 customer syncs.

Each test prints its timing as a `FIGURE` line: `python -m pytest -s -m integration
tests/integration/test_faults.py | grep FIGURE` gives the figures for the release note.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from integration.realparts import free_port, start_redis, wait_for
from integration.test_pipeline import ADD, count, db, one, post
from jobs.outbound import LANES
from models import Customer, DeadLetter, Inbox, Outbox
from support import CORP_ID, SEED, FakeWeCom
from wecom.fake.sender import render_sample
from wecom.fake.server import FakeWeComServer

pytestmark = pytest.mark.integration

WORKER = "jobs.worker.Worker"
"""The worker class the README's deployment runs."""


def add_contact(customer: str) -> str:
    return render_sample(ADD, corp_id=CORP_ID, ExternalUserID=customer, UserID="zhangsan")


def figure(name: str, seconds: float) -> None:
    print(f"\nFIGURE {name}: {seconds:.1f} s")


def test_a_busy_worker_rides_out_a_5_s_redis_outage(start_service, start_worker, service_env, crypto, clean_db,
                                                      tmp_path: Path) -> None:
    port = free_port()
    persisted = ("--appendonly", "yes")  # a restarted Redis keeps its queues, as in production
    redis = start_redis(port, tmp_path, *persisted)
    try:
        env = {**service_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        url = start_service(env)
        worker = start_worker(env, worker_class=WORKER)
        filler = Queue("maintenance", connection=Redis(port=port))
        for _ in range(400):  # keep the worker busy with jobs when Redis goes (an idle one waits it out)
            filler.enqueue("time.sleep", 0.02)
        wait_for(lambda: filler.count < 380, 30, "the worker to be busy")
        redis.terminate()
        redis.wait(10)
        time.sleep(5)
        assert worker.proc.poll() is None, worker.output()[-3000:]
        redis = start_redis(port, tmp_path, *persisted)
        back = time.monotonic()
        r = post(url, crypto, add_contact("wmCustomer0001"))
        assert (r.status_code, r.content) == (200, b"")
        Session = db(clean_db)
        wait_for(lambda: one(Session, select(Outbox.status)) == "done", 60, "the event enqueued after the outage")
        figure("recovery after a 5 s Redis outage (Redis back -> the next callback's effect done)",
               time.monotonic() - back)
        assert one(Session, select(Customer.name)) == "王小明😀"
        assert worker.proc.poll() is None
    finally:
        redis.terminate()
        redis.wait(10)


def kill_while_a_retry_waits(service, start_worker, crypto, fake_wecom, clean_db, redis_url):  # type: ignore[no-untyped-def]
    """A customer sync fails twice (WeCom busy); while its retry waits in RQ's schedule, 10 s on
    (RETRY_INTERVALS["outbound"]), SIGKILL the worker and its scheduler: the scheduler lock stays behind."""
    fake_wecom.fault("externalcontact/get", -1, count=8)  # two attempts of 4 calls (the client's 3 retries)
    worker = start_worker(worker_class=WORKER)
    assert post(service, crypto, add_contact("wmCustomer0001")).status_code == 200
    Session = db(clean_db)
    wait_for(lambda: len(fake_wecom.calls("externalcontact/get")) == 8, 30, "two failed attempts")
    rq_job = f"outbox-{one(Session, select(Outbox.id))}"
    wait_for(lambda: Job.fetch(rq_job, connection=Redis.from_url(redis_url)).get_status() == "scheduled", 10,
             "the retry to be scheduled")
    worker.kill()
    return Session


def test_a_killed_workers_scheduled_retries_resume_within_a_minute(service, start_worker, crypto, fake_wecom,
                                                                   clean_db, redis_url) -> None:
    Session = kill_while_a_retry_waits(service, start_worker, crypto, fake_wecom, clean_db, redis_url)
    killed = time.monotonic()
    start_worker(worker_class=WORKER)
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 90, "the scheduled retry")
    resumed = time.monotonic() - killed
    figure("retry resumption after a worker SIGKILL (kill -> retried effect done; retry was due 10 s on)", resumed)
    assert resumed < 60
    assert [c["errcode"] for c in fake_wecom.calls("externalcontact/get")] == [-1] * 8 + [0]
    assert one(Session, select(Outbox.attempts)) == 3
    assert count(Session, DeadLetter) == 0


def test_the_sweeper_enqueues_an_overdue_retry_that_no_scheduler_moves(service, start_worker, flask_cli, crypto,
                                                                       fake_wecom, clean_db, redis_url) -> None:
    Session = kill_while_a_retry_waits(service, start_worker, crypto, fake_wecom, clean_db, redis_url)
    time.sleep(11)  # the retry is due; RQ still calls it scheduled, with no scheduler alive to move it
    rq_job = Job.fetch(f"outbox-{one(Session, select(Outbox.id))}", connection=Redis.from_url(redis_url))
    assert rq_job.get_status() == "scheduled"
    swept = flask_cli("sweep", "--older-than", "0")
    assert "1 outbound effect(s)" in swept.stdout, swept.stdout + swept.stderr
    assert rq_job.get_status() == "queued"  # no worker runs yet: the sweeper put it in its queue
    start_worker(worker_class=WORKER)
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 30, "the swept retry")
    assert count(Session, DeadLetter) == 0


HOLD_THE_LOCK = """
import fcntl, os, sqlite3, sys, time
path, how = sys.argv[1], sys.argv[2]
if how == "gate":  # what one of our own processes holds while it writes
    fd = os.open(path + ".writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
else:  # any other SQLite writer: the write lock itself
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", ["sqlite", "gate"])
def test_callbacks_answer_503_well_inside_wecoms_5_s_while_another_process_holds_the_write_lock(
        service, spawn, service_env, crypto, clean_db, how) -> None:
    if not clean_db.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    holder = spawn("lock-holder", [sys.executable, "-c", HOLD_THE_LOCK, make_url(clean_db).database, how],
                   service_env)
    wait_for(lambda: "held" in holder.output(), 10, "the lock holder")
    waited = []
    for i in range(4):
        started = time.monotonic()
        r = post(service, crypto, add_contact(f"wmLocked{i}"))
        waited.append(time.monotonic() - started)
        assert r.status_code == 503
    figure(f"longest 503 while another process holds the lock ({how})", max(waited))
    assert max(waited) < 3.5, waited  # WeCom stops listening at 5 s
    Session = db(clean_db)
    assert count(Session, Inbox) == 0
    holder.kill()
    assert post(service, crypto, add_contact("wmLocked0")).status_code == 200  # WeCom's retry is stored
    assert one(Session, select(Inbox.routing_key)) is not None and count(Session, Inbox) == 1


CUSTOMERS = 45
LIMIT = 30


def test_rate_limited_syncs_drain_at_wecoms_pace_and_none_is_left_behind(start_service, start_worker, service_env,
                                                                         crypto, clean_db) -> None:
    """45 customers at WeCom's 30 calls a minute to externalcontact/get (the fake refuses with 45009 and
    counts refused calls in the minute, as WeCom does): 30 syncs pass, the first refusal makes the other 15
    wait out the minute without calling; none is retried into the block, none is left pending, none is
    dead-lettered."""
    with FakeWeComServer(rate_limit_per_minute=LIMIT) as limited:
        fake = FakeWeCom(limited.url)
        fake.seed(SEED)
        fake.seed({"external_contacts": [
            {"corpid": CORP_ID, "external_contact": {"external_userid": f"wmRate{i:03d}", "name": f"客户{i}", "type": 1},
             "follow_user": [{"userid": "zhangsan", "remark": "", "createtime": 1732000000, "tags": []}]}
            for i in range(CUSTOMERS)]})
        env = {**service_env, "WECOM_API_BASE": fake.api_base}
        url = start_service(env)
        start_worker(env, worker_class=WORKER)
        started = time.monotonic()
        for i in range(CUSTOMERS):
            assert post(url, crypto, add_contact(f"wmRate{i:03d}")).status_code == 200
        Session = db(clean_db)

        def done() -> int:
            return one(Session, select(func.count()).select_from(Outbox).where(Outbox.status == "done"))

        wait_for(lambda: done() == CUSTOMERS, 240, f"{CUSTOMERS} syncs")
        figure(f"drain of {CUSTOMERS} customer syncs at {LIMIT}/min (first callback -> last sync done)",
               time.monotonic() - started)
        refused = [c for c in fake.calls("externalcontact/get") if c["errcode"] == 45009]
        print(f"\nFIGURE 45009 refusals in that drain: {len(refused)}")
        # One refusal per sync over the limit at most (CUSTOMERS - LIMIT + 5, issue 18), and in fact far fewer:
        # after WeCom's first 45009 the other syncs wait the block out without calling (jobs/rate_limits.py),
        # so only the calls already in flight are refused: a batch's lanes on each worker, and once more at
        # most if the batch that waited the block out starts a moment before WeCom's minute is over (with
        # 20-row batches CI once saw 10; 6 here). Before that, every sync over the limit was refused at least
        # once (15 here; CI once saw 30).
        assert len(refused) <= min(CUSTOMERS - LIMIT + 5, 2 * LANES), len(refused)
        assert count(Session, Customer) == CUSTOMERS
        assert count(Session, DeadLetter) == 0
