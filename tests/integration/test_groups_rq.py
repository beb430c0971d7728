"""Customer groups with real parts: the fake WeCom plays each group's life and sends the encrypted
change_external_chat callback itself (to the service under gunicorn), a real `rq worker` processes it and
fetches groupchat/get from the fake over HTTP; tests read our rows and wait on them, never on sleeps."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from contact_support import ADD
from group_support import DAY, T0, at, fake_group, group_row, snapshot, stints
from integration.realparts import wait_for
from integration.test_contact_lifecycle import World
from models import Customer, Inbox
from models.groups import GroupMember
from support import AES_KEY, CORP_ID, TOKEN

pytestmark = pytest.mark.integration


class Groups(World):
    def change(self, route: str, callback: bool = True, **body: Any) -> dict[str, Any]:
        out = fake_group(self.fake.url, route, callback=callback, **body)
        assert out["callback"] == (200 if callback else None), out
        return out

    def settled_at(self, chat_id: str, member_version: str) -> None:
        """Wait until every callback and fetch is done and the group holds `member_version`."""
        def done() -> bool:
            if not self.settled():
                return False
            with self.Session() as s:
                return group_row(s, chat_id).member_version == member_version
        wait_for(done, 30, f"group {chat_id} at member version {member_version}")

    def stints(self, chat_id: str) -> list[tuple[Any, ...]]:
        with self.Session() as s:
            return stints(s, chat_id)


@pytest.fixture
def groups(service, start_worker, crypto, fake_wecom, clean_db, redis_url) -> Groups:  # type: ignore[no-untyped-def]
    requests.post(f"{fake_wecom.url}/fake/callback_targets", timeout=5, json={
        "corpid": CORP_ID, "url": f"{service}/wecom/callback/default", "token": TOKEN, "aes_key": AES_KEY,
    }).raise_for_status()
    start_worker(worker_class="jobs.worker.Worker")
    return Groups(service, crypto, fake_wecom, clean_db, redis_url)


def new_group(groups: Groups) -> tuple[str, str]:
    out = groups.change("", owner="zhangsan", name="客户群", at=T0, members=[{"userid": "lisi", "type": 1}])
    groups.settled_at(out["chat_id"], out["member_version"])
    return out["chat_id"], out["member_version"]


def test_a_customer_joining_by_code_is_recorded_and_linked_to_their_row(groups: Groups) -> None:
    groups.send(ADD, UserID="zhangsan", ExternalUserID="wmCustomer0001")
    groups.settle("the customer's add")
    chat_id, _ = new_group(groups)
    out = groups.change(f"/{chat_id}/members", at=T0 + 60, members=[
        {"userid": "wmCustomer0001", "join_scene": 3, "state": "gcode-1", "invitor": "zhangsan"}])
    groups.settled_at(chat_id, out["member_version"])
    with groups.Session() as s:
        member = s.scalar(select(GroupMember).where(GroupMember.member_id == "wmCustomer0001"))
        customer = s.scalar(select(Customer).where(Customer.external_userid == "wmCustomer0001"))
        assert (member.join_scene, member.join_state, member.joined_at, member.customer_id) == \
            (3, "gcode-1", at(T0 + 60), customer.id)
        assert customer.synced_at is not None  # the real customer row, not a stub
        group = group_row(s, chat_id)
        assert (group.staff_count, group.external_count) == (2, 1)


def test_a_missed_update_is_repaired_by_a_refetch(groups: Groups) -> None:
    chat_id, _ = new_group(groups)
    groups.change(f"/{chat_id}/members", callback=False, at=T0 + 10, members=[{"userid": "wmMissed"}])
    out = groups.change(f"/{chat_id}/members", at=T0 + 20, members=[{"userid": "wmNext"}])
    groups.settled_at(chat_id, out["member_version"])
    open_now = {m for m, _, quit, _, _ in groups.stints(chat_id) if quit is None}
    assert open_now == {"zhangsan", "lisi", "wmMissed", "wmNext"}
    assert ("wmMissed", at(T0 + 10), None, 1, None) in groups.stints(chat_id)  # WeCom's join time, not ours


def test_joins_and_quits_over_several_days_then_every_event_replayed_twice(groups: Groups) -> None:
    chat_id, _ = new_group(groups)
    moves = [("/members", {"members": [{"userid": "wmA", "join_scene": 3}]}, 1),
             ("/members", {"members": [{"userid": "wmB"}]}, 1),
             ("/quit", {"userids": ["wmA"], "quit_scene": 0}, 2),
             ("/quit", {"userids": ["wmB"], "quit_scene": 1}, 3),
             ("/members", {"members": [{"userid": "wmA", "join_scene": 2}]}, 4)]
    for route, body, day in moves:
        out = groups.change(f"/{chat_id}{route}", at=T0 + day * DAY, **body)
        groups.settled_at(chat_id, out["member_version"])
    assert groups.stints(chat_id)[2:] == [("wmA", at(T0 + DAY), at(T0 + 2 * DAY), 3, 0),
                                          ("wmB", at(T0 + DAY), at(T0 + 3 * DAY), 1, 1),
                                          ("wmA", at(T0 + 4 * DAY), None, 2, None)]
    # the size at the end of each corp-local day (Asia/Shanghai: every move at 22:13 local), through the API: a
    # day before the group existed is zeros (a chart over a range needs a value per day), today holds the rejoin
    first = at(T0).astimezone(ZoneInfo("Asia/Shanghai")).date()
    expected = {-1: (0, 0), 0: (2, 0), 1: (2, 2), 2: (2, 1), 3: (2, 0), 4: (2, 1)}
    for offset, (staff, external) in expected.items():
        day = (first + dt.timedelta(days=offset)).isoformat()
        r = groups.api("GET", f"/groups/{chat_id}/size", params={"date": day})
        assert (r.status_code, r.json()) == (200, {"date": day, "members": staff + external, "staff": staff,
                                                   "external": external}), day
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert groups.api("GET", f"/groups/{chat_id}/size", params={"date": today}).json()["members"] == 3
    assert groups.api("GET", f"/groups/{chat_id}/size", params={"date": "2026-02-30"}).status_code == 422
    assert groups.api("GET", "/groups/wrNoSuchGroup/size", params={"date": today}).status_code == 404
    with groups.Session() as s:
        before = snapshot(s)
        events = list(s.scalars(select(Inbox.id).where(Inbox.routing_key.like("change_external_chat/%"))))
    assert len(events) == 6
    for _ in range(2):
        for inbox_id in events:
            assert groups.api("POST", f"/events/{inbox_id}/replay").status_code == 202
        groups.settle("the replays")
    with groups.Session() as s:
        assert snapshot(s) == before
