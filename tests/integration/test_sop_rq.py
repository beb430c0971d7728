"""SOP steps with real parts: a plan written through the API under gunicorn, customers added (and one lost)
through encrypted callbacks processed by `rq worker` processes, and the SOP tick (what `rq cron jobs.cron`
runs every minute) enqueued over and over onto two workers at once; one worker is killed (SIGKILL) once the
steps start firing and another started. Every step due at 09:00 corp time fires exactly once (one task, one
app message on the fake WeCom), none for the customer who left."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from zoneinfo import ZoneInfo

import requests
from redis import Redis
from rq import Queue
from sqlalchemy import func, select, update

from integration.realparts import wait_for
from integration.test_pipeline import db, post
from jobs.sop import sop_tick
from models import Corp, Customer, Outbox, SopEnrolment, SopRun, Task
from support import CORP_ID
from web.auth import create_token
from wecom.fake.sender import render_sample

ADD = "change_external_contact/add_external_contact"
LOST = "change_external_contact/del_follow_user"
CUSTOMERS = 40
TICKS_PER_SECOND = 10


def zone_at_nine(now: dt.datetime) -> str:
    """A whole-hour zone where it is 09:xx now: the step "day 0 at 09:00" is due, "day 1 at 09:00" is not."""
    offset = (9 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def test_a_step_due_at_nine_fires_once_across_two_workers_and_a_restart(  # type: ignore[no-untyped-def]
        service, start_worker, flask_cli, fake_wecom, crypto, clean_db, redis_url) -> None:
    fake_wecom.seed({"users": [{"corpid": CORP_ID, "userid": f"sopuser{n:02d}", "name": f"销售{n}"} for n in range(20)],
                     "external_contacts": [{"corpid": CORP_ID, "external_contact": {"external_userid": f"wmSop{n:03d}",
                                                                                    "name": f"客户{n}", "type": 1},
                                            "follow_user": [{"userid": f"sopuser{n % 20:02d}", "createtime": 0}]}
                                           for n in range(CUSTOMERS)]})
    workers = [start_worker(worker_class="jobs.worker.Worker") for _ in range(2)]
    Session = db(clean_db)
    with Session.begin() as s:
        headers = {"Authorization": f"Bearer {create_token(s, 'sop-it', 'admin')}"}
    now = dt.datetime.now(dt.UTC)
    zone = zone_at_nine(now)
    r = requests.post(f"{service}/api/v1/sop-plans", headers=headers, timeout=10, json={
        "corp_id": CORP_ID, "name": "新客SOP", "trigger": "customer_added", "steps": [
            {"name": "早安问候", "day": 0, "at": "09:00", "messages": [{"type": "text", "text": "早上好"}]},
            {"name": "次日回访", "day": 1, "at": "09:00", "messages": [{"type": "text", "text": "明天见"}]}]})
    assert r.status_code == 201, r.text
    with Session.begin() as s:
        s.execute(update(Corp).where(Corp.corp_id == CORP_ID).values(timezone=zone))
    created = str(int(time.time()))
    people = [(f"wmSop{n:03d}", f"sopuser{n % 20:02d}") for n in range(CUSTOMERS)] + [("wmLeaver", "sopuser00")]
    for external, userid in people:
        assert post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID=external, UserID=userid,
                                                   WelcomeCode="", CreateTime=created)).status_code == 200

    def enrolled() -> int:
        with Session() as s:
            return int(s.scalar(select(func.count()).select_from(SopEnrolment)) or 0)

    wait_for(lambda: enrolled() == len(people), 60, "every customer enrolled")
    assert post(service, crypto, render_sample(LOST, corp_id=CORP_ID, ExternalUserID="wmLeaver",
                                               UserID="sopuser00", CreateTime=created)).status_code == 200

    def stopped() -> bool:
        with Session() as s:
            return s.scalar(select(SopEnrolment.stop_reason).join(Customer, Customer.id == SopEnrolment.customer_id)
                            .where(Customer.external_userid == "wmLeaver")) == "deleted_by_customer"

    wait_for(stopped, 30, "the lost customer's SOP to stop")
    nine = dt.datetime.combine(now.astimezone(ZoneInfo(zone)).date(), dt.time(9), ZoneInfo(zone))
    with Session() as s:
        assert set(s.scalars(select(SopRun.due_at))) == {nine, nine + dt.timedelta(days=1)}

    def outbox(job: str) -> Counter[str]:
        with Session() as s:
            return Counter(s.scalars(select(Outbox.status).where(Outbox.job == job)))

    def tasks() -> int:
        with Session() as s:
            return int(s.scalar(select(func.count()).select_from(Task)) or 0)

    stop = threading.Event()
    queue = Queue("maintenance", connection=Redis.from_url(redis_url))

    def tick() -> None:  # what `rq cron` does each minute, many times a second: both workers take them
        while not stop.is_set():
            queue.enqueue(sop_tick)
            time.sleep(1 / TICKS_PER_SECOND)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        wait_for(tasks, 60, "the first step to fire")
        workers[0].kill()  # SIGKILL, wherever it is: inside a tick or between two
        start_worker(worker_class="jobs.worker.Worker")
        wait_for(lambda: tasks() >= CUSTOMERS, 120, "every due step to fire")
        time.sleep(3)  # more ticks on both workers
    finally:
        stop.set()
        ticker.join()
    wait_for(lambda: queue.count == 0, 60, "the queued ticks to drain")
    with Session() as s:
        fired = Counter(s.scalars(select(Customer.external_userid).join(Task, Task.customer_id == Customer.id)))
        statuses = Counter(s.scalars(select(SopRun.status)))
    assert fired == Counter({external: 1 for external, _ in people[:-1]})
    assert statuses == Counter({"done": CUSTOMERS, "pending": CUSTOMERS, "skipped": 2})  # day 1 waits; wmLeaver
    # a tick killed after its commit left its messages' outbox rows unqueued: the sweeper (every minute from
    # `rq cron`) queues them; here at once
    sweep = flask_cli("sweep", "--older-than", "0")
    assert sweep.returncode == 0, sweep.stderr
    wait_for(lambda: outbox("notify_admins") == Counter({"done": CUSTOMERS}), 60, "the app messages sent")
    wait_for(lambda: len([c for c in fake_wecom.calls("message/send")
                          if "早安问候" in c["body"]["text"]["content"]]) >= CUSTOMERS, 60, "the app messages")
    time.sleep(1)
    greetings = Counter(c["body"]["touser"] for c in fake_wecom.calls("message/send")
                        if "早安问候" in c["body"]["text"]["content"])
    assert greetings == Counter({f"sopuser{n:02d}": 2 for n in range(20)})
