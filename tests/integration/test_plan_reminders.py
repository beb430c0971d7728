"""Plan reminders with real parts: plans written through the API under gunicorn, the reminder scan (the job
`rq cron jobs.cron` runs every minute) enqueued over and over onto two `rq worker` processes at once, and
the fake WeCom counting message/send. A reminder goes out once; an edit moves it (nothing at the old
time, once at the new); a delete cancels it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import requests
from redis import Redis
from rq import Queue
from sqlalchemy import select

from integration.realparts import wait_for
from integration.test_pipeline import db
from jobs.bot import remind_plans_job
from models import Plan
from web.auth import create_token

SCANS_PER_SECOND = 10


def test_a_reminder_goes_out_once_an_edit_moves_it_a_delete_cancels_it(  # type: ignore[no-untyped-def]
        service, start_worker, fake_wecom, clean_db, redis_url) -> None:
    start_worker(worker_class="jobs.worker.Worker")
    start_worker(worker_class="jobs.worker.Worker")
    with db(clean_db).begin() as s:
        headers = {"Authorization": f"Bearer {create_token(s, 'plans-it', 'super_admin')}"}
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=5)

    def at(seconds: float) -> str:
        return (start + dt.timedelta(seconds=seconds)).isoformat()

    def create(userid: str, text: str) -> int:
        r = requests.post(f"{service}/api/v1/plans", headers=headers, timeout=10, json={
            "userid": userid, "text": text, "starts_at": at(60), "remind_at": at(0)})
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    create("zhangsan", "按时提醒")
    moved = create("lisi", "改了时间")
    deleted = create("wangwu", "删掉了")
    r = requests.patch(f"{service}/api/v1/plans/{moved}", headers=headers, json={"remind_at": at(8)}, timeout=10)
    assert r.status_code == 200 and r.json()["remind_at"] == at(8), r.text
    assert requests.delete(f"{service}/api/v1/plans/{deleted}", headers=headers, timeout=10).status_code == 200

    stop = threading.Event()
    queue = Queue("maintenance", connection=Redis.from_url(redis_url))

    def scan() -> None:  # what `rq cron` does each minute, many times a second: both workers take them
        while not stop.is_set():
            queue.enqueue(remind_plans_job)
            time.sleep(1 / SCANS_PER_SECOND)

    def sent() -> Counter[str]:  # every call, refused ones too (wangwu is no member of the fake's corp)
        return Counter(c["body"]["touser"] for c in fake_wecom.calls("message/send"))

    scanner = threading.Thread(target=scan, daemon=True)
    scanner.start()
    try:
        wait_for(lambda: sent()["zhangsan"], 30, "the first reminder")
        assert dt.datetime.now(dt.UTC) < start + dt.timedelta(seconds=6), "too slow to tell the old time from the new"
        while dt.datetime.now(dt.UTC) < start + dt.timedelta(seconds=6):  # past the old time, before the new
            time.sleep(0.1)
        assert sent() == Counter({"zhangsan": 1})
        wait_for(lambda: sent()["lisi"], 30, "the moved reminder")
        time.sleep(3)  # more scans on both workers
    finally:
        stop.set()
        scanner.join()
    wait_for(lambda: queue.count == 0, 60, "the queued scans to drain")
    time.sleep(1)
    assert sent() == Counter({"zhangsan": 1, "lisi": 1})
    texts = {c["body"]["touser"]: c["body"]["text"]["content"] for c in fake_wecom.calls("message/send")}
    assert texts["lisi"].endswith("：改了时间") and texts["zhangsan"].endswith("：按时提醒")
    with db(clean_db)() as s:
        reminded = dict(s.execute(select(Plan.userid, Plan.reminded_at)).all())
    assert reminded["lisi"] >= start + dt.timedelta(seconds=8) and reminded["wangwu"] is None
