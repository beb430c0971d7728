"""Scheduled staff broadcasts (员工群发 定时发送, manual 9.5; issue 17): a broadcast with a future send_at waits;
the cron job sends it once its time has come, exactly once however often it runs; message/send seen by the
fake WeCom."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import update

from jobs.broadcasts import send_due_broadcasts
from models.db import utcnow
from models.moderation import Broadcast
from test_templates import broadcast, sends


def test_a_scheduled_broadcast_waits_then_goes_exactly_once(client, runtime, make_token, fake_wecom) -> None:
    admin = make_token("admin")
    at = (utcnow() + dt.timedelta(hours=2)).replace(microsecond=0)
    r = broadcast(client, admin, userids=["zhangsan"], msgtype="text", body={"content": "周五盘点"},
                  send_at=at.isoformat())
    assert r.status_code == 202, r.get_json()
    row = r.get_json()
    assert (row["status"], row["send_at"]) == ("scheduled", at.isoformat())
    assert send_due_broadcasts() == {"sent": 0} and sends(fake_wecom) == []

    with runtime.WriteSession.begin() as s:  # two hours later
        s.execute(update(Broadcast).values(send_at=utcnow() - dt.timedelta(seconds=1)))
    results: list[dict[str, int]] = []
    runs = [threading.Thread(target=lambda: results.append(send_due_broadcasts())) for _ in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    send_due_broadcasts()
    assert sum(r["sent"] for r in results) == 1
    [call] = sends(fake_wecom)
    assert call["body"]["text"] == {"content": "周五盘点"} and call["body"]["touser"] == "zhangsan"
    got = client.get(f"/api/v1/broadcasts/{row['id']}", headers=admin).get_json()
    assert got["status"] == "sent" and got["sent_at"]


def test_a_send_at_in_the_past_sends_now(client, make_token, fake_wecom) -> None:
    r = broadcast(client, make_token("admin"), userids=["zhangsan"], msgtype="text", body={"content": "x"},
                  send_at=(utcnow() - dt.timedelta(minutes=1)).isoformat())
    assert r.status_code == 202 and r.get_json()["send_at"] is None
    assert len(sends(fake_wecom)) == 1
