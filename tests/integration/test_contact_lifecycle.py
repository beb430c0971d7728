"""A customer's whole contact path with real parts: channel codes made through the admin API (gunicorn), the
customer scanning them in the fake WeCom, encrypted callbacks, a real `rq worker` on Redis, and every effect
seen as a call the fake WeCom received over HTTP.

Each test starts one worker listening on `welcome outbound events maintenance` (rq's SimpleWorker: these
tests run ~60 jobs, and a fork plus re-import per job would cost most of a second each) and waits on DB
rows or fake calls, never on fixed sleeps: the missed welcome comes from an event whose CreateTime is 21 s old, which is
what the 20 s deadline is measured from.
"""

from __future__ import annotations

import time
from typing import Any
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import func, select

from contact_support import (ADD, DEL_BY_STAFF, LEFT, LOST, TEAM, TRANSFER_FAIL, add_fields, code_body, contact_way,
                             issue_welcome_code, scan, welcomes)
from integration.realparts import wait_for
from integration.test_pipeline import count, db, one, post
from models import (ChannelCode, ChannelDailyStat, Customer, CustomerEvent, DeadLetter, FollowRelation, FollowTag,
                    Inbox, Outbox, Staff, WelcomeLog)
from jobs.queue import QUEUES
from models.db import make_engine, make_session_factory
from support import CORP_ID
from wecom.fake.sender import render_sample

pytestmark = pytest.mark.integration


class World:
    """The running service, its DB and the fake, with the few moves these tests make."""

    def __init__(self, service: str, crypto: Any, fake: Any, database_url: str, redis_url: str) -> None:
        from web.auth import create_token

        self.service, self.crypto, self.fake, self.redis_url = service, crypto, fake, redis_url
        engine = make_engine(database_url)
        self.Session = db(database_url)
        with make_session_factory(engine, writer=True).begin() as s:
            self.headers = {"Authorization": f"Bearer {create_token(s, 'it', 'super_admin')}"}

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.service}/api/v1{path}", headers=self.headers, timeout=10, **kwargs)

    def send(self, name: str, **fields: Any) -> None:
        r = post(self.service, self.crypto, render_sample(name, corp_id=CORP_ID, **fields))
        assert (r.status_code, r.content) == (200, b"")

    def settled(self) -> bool:
        """Every callback processed, every outbox row finished, nothing queued, running or scheduled in RQ."""
        from redis import Redis
        from rq import Queue
        from rq.registry import ScheduledJobRegistry, StartedJobRegistry

        with self.Session() as s:
            if s.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == "received")) or \
                    s.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending")):
                return False
        redis = Redis.from_url(self.redis_url)
        for name in QUEUES:
            if Queue(name, connection=redis).count or StartedJobRegistry(name, connection=redis).count \
                    or ScheduledJobRegistry(name, connection=redis).count:
                return False
        return True

    def settle(self, what: str = "the worker to finish") -> None:
        wait_for(self.settled, 30, what)

    def tags(self) -> tuple[list[int], list[str]]:
        """Two tags made through the API: (our ids, WeCom's ids once add_corp_tag ran on the worker)."""
        r = self.api("POST", "/tag-groups", json={"name": "来源", "tags": [{"name": "展会"}, {"name": "官网"}]})
        assert r.status_code == 202, r.text
        group = wait_for(lambda: next((g for g in self.api("GET", "/tag-groups").json()["items"]
                                       if not g["pending"]), None), 20, "the tags to reach WeCom")
        return [t["id"] for t in group["tags"]], [t["tag_id"] for t in group["tags"]]

    def code(self, **body: Any) -> dict[str, Any]:
        r = self.api("POST", "/channel-codes", json=body)
        assert r.status_code == 202, r.text
        [code] = r.json()["items"]
        return wait_for(lambda: (c := self.api("GET", f"/channel-codes/{code['id']}").json())["config_id"] and c,
                        20, "add_contact_way")

    def routes_to(self, code: dict[str, Any], users: list[str]) -> None:
        wait_for(lambda: contact_way(self.fake, code["config_id"])["user"] == users, 20, f"the code to route to {users}")

    def scan_and_add(self, code: dict[str, Any], external_userid: str, name: str) -> dict[str, Any]:
        """The customer scans, WeCom calls back; returns the scan (who got them, the WelcomeCode)."""
        hit = scan(self.fake, code["config_id"], external_userid, name)
        self.send(ADD, **add_fields(hit))
        return hit

    def welcome_status(self, welcome_code: str) -> str | None:
        return one(self.Session, select(WelcomeLog.status).where(WelcomeLog.welcome_code == welcome_code))

    def relation(self, external_userid: str, userid: str) -> FollowRelation:
        with self.Session() as s:
            row = s.scalar(select(FollowRelation).join(Customer).where(
                Customer.external_userid == external_userid, FollowRelation.userid == userid))
            s.expunge(row)
            return row


@pytest.fixture
def world(service, start_worker, crypto, fake_wecom, clean_db, redis_url) -> World:  # type: ignore[no-untyped-def]
    fake_wecom.seed(TEAM)
    start_worker(worker_class="rq.worker.SimpleWorker")
    return World(service, crypto, fake_wecom, clean_db, redis_url)


def test_a_scan_lands_on_the_round_robin_member_with_tags_and_the_rendered_welcome(world: World) -> None:
    tag_pks, wecom_tag_ids = world.tags()
    code = world.code(**code_body(tag_pks, members=["zhangsan", "lisi", "zhaoliu"], daily_limit=2))
    [way] = world.fake.calls("externalcontact/add_contact_way")
    assert (way["body"]["type"], way["body"]["user"], way["body"]["state"]) == (2, ["zhangsan"], code["state"])

    # Two customers scan before the service can rewrite the code: WeCom sends both to zhangsan.
    first, second = scan(world.fake, code["config_id"], "wmZhang3", "张三"), \
        scan(world.fake, code["config_id"], "wmRace2", "客户二")
    assert first["userid"] == second["userid"] == "zhangsan"
    for hit in (first, second):
        world.send(ADD, **add_fields(hit))
    wait_for(lambda: world.welcome_status(first["welcome_code"]) == "sent", 20, "the welcome")
    sent = next(w for w in welcomes(world.fake) if w["code"] == first["welcome_code"])
    assert sent["text"] == {"content": "你好 张三，我是你的专属顾问"}
    call = next(c for c in world.fake.calls("externalcontact/send_welcome_msg")
                if c["body"]["welcome_code"] == first["welcome_code"])
    assert call["errcode"] == 0
    wait_for(lambda: len(world.fake.calls("externalcontact/mark_tag")) == 2, 20, "the code's tags")
    marks = {c["body"]["external_userid"]: c["body"] for c in world.fake.calls("externalcontact/mark_tag")}
    assert marks["wmZhang3"] == {"userid": "zhangsan", "external_userid": "wmZhang3",
                                 "add_tag": wecom_tag_ids, "remove_tag": []}
    world.settle()
    follow = world.relation("wmZhang3", "zhangsan")
    assert (follow.state, follow.channel_code_id, follow.status) == (code["state"], code["id"], "active")
    with world.Session() as s:
        assert s.scalar(select(func.count()).select_from(FollowTag).where(FollowTag.follow_id == follow.id)) == 2
        assert s.scalar(select(Customer.channel).where(Customer.external_userid == "wmZhang3")) == "展会"

    # Round robin goes on after zhangsan, then skips him in his turn: he is at the daily limit of 2.
    world.routes_to(code, ["lisi"])
    assert world.scan_and_add(code, "wmC3", "客户三")["userid"] == "lisi"
    world.routes_to(code, ["zhaoliu"])
    assert world.scan_and_add(code, "wmC4", "客户四")["userid"] == "zhaoliu"
    world.routes_to(code, ["lisi"])
    assert world.scan_and_add(code, "wmC5", "客户五")["userid"] == "lisi"
    world.settle()
    assert one(world.Session, select(func.count()).select_from(WelcomeLog).where(WelcomeLog.status == "sent")) == 5
    with world.Session() as s:
        adds = dict(s.execute(select(ChannelDailyStat.userid, ChannelDailyStat.adds)).all())
    assert adds == {"zhangsan": 2, "lisi": 2, "zhaoliu": 1}
    assert world.api("GET", f"/channel-codes/{code['id']}").json()["adds_by_day"][0]["adds"] == 5


def snapshot(world: World) -> dict[str, Any]:
    """Every row the contact path writes, and every call the fake received (bar tokens)."""
    with world.Session() as s:
        rows = {
            "customers": s.execute(select(Customer.external_userid, Customer.name, Customer.owner_userid,
                                          Customer.channel).order_by(Customer.id)).all(),
            "follows": s.execute(select(FollowRelation.customer_id, FollowRelation.userid, FollowRelation.state,
                                        FollowRelation.status, FollowRelation.status_changed_at,
                                        FollowRelation.inherit_status, FollowRelation.transfer_fail_reason,
                                        FollowRelation.channel_code_id).order_by(FollowRelation.id)).all(),
            "follow_tags": s.execute(select(FollowTag.follow_id, FollowTag.tag_pk).order_by(FollowTag.id)).all(),
            "codes": s.execute(select(ChannelCode.current_users, ChannelCode.status, ChannelCode.next_index)).all(),
            "stats": s.execute(select(ChannelDailyStat.userid, ChannelDailyStat.adds).order_by(
                ChannelDailyStat.id)).all(),
            "welcome_log": s.execute(select(WelcomeLog.welcome_code, WelcomeLog.status).order_by(WelcomeLog.id)).all(),
            "outbox": s.execute(select(Outbox.key, Outbox.status, Outbox.result).order_by(Outbox.id)).all(),
            "timeline": s.execute(select(CustomerEvent.customer_id, CustomerEvent.kind, CustomerEvent.source)
                                  .order_by(CustomerEvent.id)).all(),
            "staff": s.execute(select(Staff.userid, Staff.status, Staff.manager_userid).order_by(Staff.id)).all(),
            "dead_letters": s.scalar(select(func.count()).select_from(DeadLetter)),
        }
    calls = [(c["path"], c["query"], c["body"], c["errcode"]) for c in world.fake.calls() if c["path"] != "gettoken"]
    return {"rows": rows, "calls": calls}


def test_leavers_backups_losses_hand_overs_and_a_double_replay(world: World) -> None:
    code = world.code(**code_body([]))
    hit1 = world.scan_and_add(code, "wmA", "客户甲")
    world.routes_to(code, ["lisi"])
    hit2 = world.scan_and_add(code, "wmB", "客户乙")
    world.routes_to(code, ["zhangsan"])
    world.settle()

    # 流失: the customer deletes the member; the manager hears of it once the corp setting says so.
    world.send(LOST, ExternalUserID="wmB", UserID="lisi")
    wait_for(lambda: world.fake.calls("message/send"), 20, "the lost-customer notice")
    assert world.api("PATCH", "/settings", json={"notify_manager_on_loss": True}).status_code == 200
    world.send(LOST, ExternalUserID="wmA", UserID="zhangsan")
    wait_for(lambda: len(world.fake.calls("message/send")) == 2, 20, "the second notice")
    notices = world.fake.calls("message/send")
    assert [(c["body"]["touser"], c["errcode"]) for c in notices] == [("lisi", 0), ("zhangsan|boss", 0)]
    assert "客户甲" in notices[1]["body"]["text"]["content"]
    assert world.relation("wmA", "zhangsan").status == "deleted_by_customer"

    # Both members leave: the backup takes the code; a failed and a successful hand-over are no losses.
    hit3 = world.scan_and_add(code, "wmC", "客户丙")
    assert hit3["userid"] == "zhangsan"
    world.settle()
    world.send(LEFT, UserID="zhangsan")
    world.send(LEFT, UserID="lisi")
    world.routes_to(code, ["wangwu"])
    assert world.relation("wmC", "zhangsan").inherit_status == "to_inherit"
    world.send(TRANSFER_FAIL, ExternalUserID="wmC", UserID="wangwu", FailReason="customer_refused")
    hit4 = world.scan_and_add(code, "wmD", "客户丁")
    assert hit4["userid"] == "wangwu"
    world.send(DEL_BY_STAFF, ExternalUserID="wmC", UserID="zhangsan", Source="DELETE_BY_TRANSFER")
    world.settle()
    follow = world.relation("wmC", "zhangsan")
    assert (follow.status, follow.inherit_status, follow.transfer_fail_reason) == (
        "transferred", "failed", "customer_refused")
    assert len(world.fake.calls("message/send")) == 2
    assert world.api("GET", f"/channel-codes/{code['id']}").json()["status"] == "normal"
    world.send(LEFT, UserID="wangwu")
    world.settle()
    assert world.api("GET", f"/channel-codes/{code['id']}").json()["status"] == "abnormal"
    assert {world.welcome_status(h["welcome_code"]) for h in (hit1, hit2, hit3, hit4)} == {"sent"}

    before = snapshot(world)
    ids = [row["id"] for row in world.api("GET", "/events", params={"page_size": 200}).json()["items"]]
    assert len(ids) == count(world.Session, Inbox) == 11
    for n in (1, 2):
        for inbox_id in sorted(ids):
            assert world.api("POST", f"/events/{inbox_id}/replay").status_code == 202
        wait_for(lambda n=n: one(world.Session, select(func.sum(Inbox.attempts))) == len(ids) * (1 + n), 30,
                 f"replay {n}")
        world.settle(f"replay {n} to settle")
    assert snapshot(world) == before


def test_welcome_deadline_missing_code_and_wecom_answers(world: World) -> None:
    assert world.api("POST", "/welcome-messages", json={"text": "#nickname#，欢迎"}).status_code == 201

    def add(userid: str, welcome_code: str, **extra: Any) -> Callable[[], str | None]:
        """Post the add; returns how to read its welcome's outcome."""
        world.send(ADD, ExternalUserID="wmCustomer0001", UserID=userid, State="", WelcomeCode=welcome_code, **extra)
        return lambda: world.welcome_status(welcome_code)

    # The event is 21 s old when the job runs: the code has expired, nothing is attempted.
    late = issue_welcome_code(world.fake, "zhangsan", "wmCustomer0001")
    outcome = add("zhangsan", late, CreateTime=int(time.time()) - 21)
    wait_for(lambda: outcome() == "missed", 20, "the missed log")
    # No WelcomeCode (a console welcome, or a chat already going): nothing is planned or sent.
    world.send(ADD, ExternalUserID="wmCustomer0002", UserID="lisi", State="", WelcomeCode="")
    # 41051: already sent, final.
    used = issue_welcome_code(world.fake, "zhaoliu", "wmCustomer0001")
    world.fake.fault("externalcontact/send_welcome_msg", 41051)
    outcome = add("zhaoliu", used)
    wait_for(lambda: outcome() == "chat_started", 20, "the 41051 log")
    world.settle()
    assert [c["body"]["welcome_code"] for c in world.fake.calls("externalcontact/send_welcome_msg")] == [used]
    assert count(world.Session, WelcomeLog) == 2
    assert one(world.Session, select(func.count()).select_from(Outbox).where(Outbox.job == "send_welcome")) == 2

    # 41096: another app is delivering; retried on the welcome queue inside the 20 s, then delivered.
    busy = issue_welcome_code(world.fake, "wangwu", "wmCustomer0001")
    world.fake.fault("externalcontact/send_welcome_msg", 41096)
    sent_at = time.time()
    outcome = add("wangwu", busy, CreateTime=int(sent_at))
    wait_for(lambda: outcome() == "sent", 20, "the retried welcome")
    attempts = [c for c in world.fake.calls("externalcontact/send_welcome_msg") if c["body"]["welcome_code"] == busy]
    assert [c["errcode"] for c in attempts] == [41096, 0]
    assert attempts[-1]["at"] - int(sent_at) < 20
    assert [w["code"] for w in welcomes(world.fake)] == [busy]
    world.settle()
    assert one(world.Session, select(Outbox.attempts).where(Outbox.key == f"welcome:{busy}")) == 2
    assert count(world.Session, DeadLetter) == 0
