"""End to end with real parts: encrypted POST → gunicorn → inbox → Redis → rq worker → handler → WeCom."""

from __future__ import annotations

import time

from typing import Any

import requests
from sqlalchemy import func, select

from support import AGENT_ID, CORP_ID
from integration.realparts import wait_for
from models import Customer, DeadLetter, FollowRelation, Inbox, Outbox
from models.db import make_engine, make_session_factory
from wecom.fake.sender import build_callback, render_sample

ADD = "change_external_contact/add_external_contact"


def post(service: str, crypto, plaintext: str) -> requests.Response:  # type: ignore[no-untyped-def]
    params, body = build_callback(crypto, plaintext, AGENT_ID)
    return requests.post(f"{service}/wecom/callback/default", params=params, data=body, timeout=10)


def db(url: str):  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(url))


def one(Session, query) -> Any:  # type: ignore[no-untyped-def]
    with Session() as s:
        return s.scalar(query)


def count(Session, model) -> int:  # type: ignore[no-untyped-def]
    return one(Session, select(func.count()).select_from(model))


def test_one_event_three_deliveries_one_effect(service, start_worker, crypto, fake_wecom, clean_db) -> None:
    start_worker()
    plaintext = render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    for _ in range(3):
        r = post(service, crypto, plaintext)
        assert (r.status_code, r.content) == (200, b"")
    Session = db(clean_db)
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 30, "the customer sync")
    assert one(Session, select(Customer.name)) == "王小明😀"
    assert (count(Session, Inbox), count(Session, Customer), count(Session, FollowRelation)) == (1, 1, 1)
    assert one(Session, select(Inbox.status)) == "processed"
    assert len(fake_wecom.calls("externalcontact/get")) == 1


def delivering(redis_url: str) -> bool:
    """A worker is inside an outbox delivery job (the customer sync). The outbox row's attempt count says
    nothing: it is counted when the row is planned (jobs/outbound.count_here), before any job starts."""
    from redis import Redis
    from rq import Worker

    jobs = (worker.get_current_job() for worker in Worker.all(connection=Redis.from_url(redis_url)))
    return any(job is not None and job.func_name.startswith("jobs.outbound.deliver") for job in jobs)


def test_killing_the_worker_mid_job_loses_nothing_and_doubles_nothing(
        service, start_worker, flask_cli, crypto, fake_wecom, clean_db, redis_url) -> None:
    fake_wecom.fault("externalcontact/get", 0, count=1, delay=8.0)  # the job hangs inside the WeCom call
    worker = start_worker()
    assert post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmCustomer0001",
                                               UserID="zhangsan")).status_code == 200
    Session = db(clean_db)
    wait_for(lambda: delivering(redis_url), 30, "the sync job to start")
    time.sleep(2)  # the job reaches the call in milliseconds, then hangs there for 8 s: kill it inside
    assert worker.kill(), "the worker had no work-horse: it was not inside a job"  # SIGKILL, mid-call
    assert one(Session, select(Outbox.status)) == "pending"
    # The interrupted call still completes on the fake's side; let it land before the log is cleared.
    wait_for(lambda: fake_wecom.calls("externalcontact/get"), 15, "the interrupted call to finish")
    fake_wecom.clear_calls()
    # The production worker class: a retry of the resumed job waits on a scheduler, and rq's own worker cannot
    # take over the killed worker's scheduler lock for 10 minutes (jobs/worker.py; tests/integration/test_kf.py).
    start_worker(worker_class="jobs.worker.Worker")
    # Either RQ's own abandoned-job cleanup in the new worker or the sweeper re-runs the job; both are fine.
    sweep = flask_cli("sweep", "--older-than", "0")
    assert sweep.returncode == 0, sweep.stderr
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 30, "the resumed sync")
    assert (count(Session, Inbox), count(Session, Customer), count(Session, FollowRelation)) == (1, 1, 1)
    assert one(Session, select(Customer.name)) == "王小明😀"
    assert count(Session, DeadLetter) == 0


def test_a_busy_wecom_is_retried_by_rq_with_back_off(service, start_worker, crypto, fake_wecom, clean_db) -> None:
    fake_wecom.fault("externalcontact/get", -1, count=4)  # beyond the client's own 3 back-off retries
    start_worker()
    post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmCustomer0001", UserID="zhangsan"))
    Session = db(clean_db)
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 40, "the retried sync")
    assert one(Session, select(Outbox.attempts)) == 2
    assert [c["errcode"] for c in fake_wecom.calls("externalcontact/get")] == [-1, -1, -1, -1, 0]
    assert count(Session, DeadLetter) == 0


def test_a_final_wecom_error_is_dead_lettered_at_once_and_replayable(
        service, start_worker, flask_cli, crypto, fake_wecom, clean_db) -> None:
    start_worker()
    post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmLate", UserID="zhangsan"))
    Session = db(clean_db)
    wait_for(lambda: one(Session, select(Outbox.status)) == "failed", 30, "the dead letter")
    assert "84061" in one(Session, select(DeadLetter.error))
    assert len(fake_wecom.calls("externalcontact/get")) == 1  # no retry of a final error
    listed = flask_cli("dead-letters", "list")
    assert '"job": "deliver_outbox"' in listed.stdout
    fake_wecom.seed({"external_contacts": [{"corpid": CORP_ID, "external_contact": {
        "external_userid": "wmLate", "name": "迟到的客户", "type": 1}, "follow_user": []}]})
    dead_id = one(Session, select(DeadLetter.id))
    assert flask_cli("dead-letters", "replay", str(dead_id)).returncode == 0
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 30, "the replayed sync")
    assert one(Session, select(Customer.name)) == "迟到的客户"


def test_redis_down_the_callback_is_stored_and_the_sweeper_recovers_it(
        spawn, service_env, start_worker, flask_cli, crypto, fake_wecom, clean_db) -> None:
    from integration.realparts import BIN, free_port

    dead_redis = {**service_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    port = free_port()
    proc = spawn("gunicorn-no-redis", [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                                       "app:create_app()"], dead_redis)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.proc.poll() is None, proc.output()
        try:
            return requests.get(f"{url}/healthz", timeout=5).status_code in (200, 503)
        except requests.RequestException:
            return False

    wait_for(up, 30, "gunicorn without redis", lambda: proc.output()[-4000:])  # timed out once in CI: show why
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"db": "ok", "redis": "down", "apps_credentials_broken": []}
    r = post(url, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmCustomer0001", UserID="zhangsan"))
    assert (r.status_code, r.content) == (200, b"")
    Session = db(clean_db)
    assert one(Session, select(Inbox.status)) == "received"
    start_worker()
    assert "1 event(s)" in flask_cli("sweep", "--older-than", "0").stdout
    wait_for(lambda: one(Session, select(Outbox.status)) == "done", 30, "the swept event")
    assert one(Session, select(Customer.name)) == "王小明😀"
