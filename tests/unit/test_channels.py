"""Channels (渠道, manual 9.14, issue 17) over HTTP: name and scene required, codes grouped under one, the list
filtered by keyword with its counts; the report (adds, losses, net per corp-local day; JSON and CSV) from real
scans and deletions through the fake WeCom; a channel code's QR image fetched from the fake once, kept."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from contact_support import ADD, DEL_BY_STAFF, add_fields, code_body, scan
from customer_world import all_rows
from models import AuditLog, Channel, ChannelCode, ChannelDailyStat
from models.db import utcnow
from test_contact_flow import team  # noqa: F401  (a fixture: the sales team in the fake WeCom)


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin", name="ops")


def new_code(client, admin, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/channel-codes", json={**code_body([], welcome=None), "name": name}, headers=admin)
    assert r.status_code == 202, r.get_json()
    [code] = r.get_json()["items"]
    assert code["config_id"]
    return code


def new_channel(client, admin, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/channels", json=body, headers=admin)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_channels_group_codes_and_are_found_by_keyword(client, runtime, team, admin) -> None:  # noqa: F811
    a, b = new_code(client, admin, "海报码"), new_code(client, admin, "展台码")
    tmall = new_channel(client, admin, name="天猫", scene="双十一海报", code_ids=[a["id"], b["id"]])
    assert (tmall["code_ids"], tmall["customers_added"], tmall["last_added_at"]) == ([a["id"], b["id"]], 0, None)
    jd = new_channel(client, admin, name="京东", scene="店铺首页", code_ids=[b["id"]])  # b moves to 京东
    assert client.get(f"/api/v1/channels/{tmall['id']}", headers=admin).get_json()["code_ids"] == [a["id"]]
    found = client.get("/api/v1/channels", headers=admin, query_string={"keyword": "海报"}).get_json()
    assert [c["name"] for c in found["items"]] == ["天猫"] and found["total"] == 1
    assert [c["name"] for c in client.get("/api/v1/channels", headers=admin).get_json()["items"]] == ["京东", "天猫"]
    r = client.patch(f"/api/v1/channels/{jd['id']}", headers=admin, json={"scene": "直播间", "code_ids": []})
    assert r.status_code == 200 and (r.get_json()["scene"], r.get_json()["code_ids"]) == ("直播间", [])
    assert client.delete(f"/api/v1/channels/{tmall['id']}", headers=admin).status_code == 200
    with runtime.Session() as s:
        assert s.scalars(select(ChannelCode.channel_id)).all() == [None, None]
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "channel.create")) == "channel.create"
    assert client.get(f"/api/v1/channels/{tmall['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize("body,status,field", [
    ({"name": "天猫"}, 422, "scene"),  # scene is required
    ({"name": "天猫", "scene": " "}, 422, "scene"),
    ({"name": "x" * 31, "scene": "s"}, 422, "name"),
    ({"name": "京东", "scene": "s"}, 409, "name"),  # taken
    ({"name": "新", "scene": "s", "code_ids": [99999]}, 422, "code_ids"),
    ({"name": "新", "scene": "s", "group_code_ids": [99999]}, 422, "group_code_ids"),
])
def test_bad_channels_are_refused_and_change_nothing(client, runtime, team, admin, body, status, field) -> None:  # noqa: F811
    new_channel(client, admin, name="京东", scene="店铺")
    before = all_rows(runtime)
    r = client.post("/api/v1/channels", json=body, headers=admin)
    assert r.status_code == status, r.get_json()
    assert field in str(r.get_json()["error"])
    assert all_rows(runtime) == before


def test_the_report_counts_adds_losses_and_net_per_local_day(sender, client, runtime, team, admin) -> None:  # noqa: F811
    code = new_code(client, admin, "门店码")
    channel = new_channel(client, admin, name="线下门店", scene="门店海报", code_ids=[code["id"]])
    for who, name in (("wmA", "甲"), ("wmB", "乙")):
        hit = scan(team, code["config_id"], who, name)
        assert sender.post(ADD, **add_fields(hit, WelcomeCode="")).status_code == 200
    member = scan(team, code["config_id"], "wmC", "丙")  # a third, then its member deletes it
    sender.post(ADD, **add_fields(member, WelcomeCode=""))
    sender.post(DEL_BY_STAFF, UserID=member["userid"], ExternalUserID="wmC")
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    with runtime.WriteSession.begin() as s:  # four adds three days ago, on another member
        s.add(ChannelDailyStat(code_id=code["id"], day=today - dt.timedelta(days=3), userid="lisi", adds=4))

    r = client.get(f"/api/v1/channels/{channel['id']}/report", headers=admin, query_string={"days": 7})
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    assert (data["first"], data["last"]) == ((today - dt.timedelta(days=6)).isoformat(), today.isoformat())
    assert len(data["days"]) == 7 and (data["adds"], data["losses"], data["net"]) == (7, 1, 6)
    by_day = {d["day"]: (d["adds"], d["losses"], d["net"]) for d in data["days"]}
    assert by_day[today.isoformat()] == (3, 1, 2)
    assert by_day[(today - dt.timedelta(days=3)).isoformat()] == (4, 0, 4)
    assert client.get("/api/v1/channels", headers=admin).get_json()["items"][0]["customers_added"] == 7

    r = client.get(f"/api/v1/channels/{channel['id']}/report", headers=admin,
                   query_string={"from": (today - dt.timedelta(days=3)).isoformat(),
                                 "to": (today - dt.timedelta(days=2)).isoformat()})
    assert [(d["adds"], d["net"]) for d in r.get_json()["days"]] == [(4, 4), (0, 0)]
    assert len(client.get(f"/api/v1/channels/{channel['id']}/report", headers=admin).get_json()["days"]) == 30

    csv = client.get(f"/api/v1/channels/{channel['id']}/report/export", headers=admin, query_string={"days": 7})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "日期,新增客户,流失客户,净增" and lines[-1] == f"{today.isoformat()},3,1,2" and len(lines) == 8

    for bad in ({"days": 14}, {"from": today.isoformat()}, {"from": "2026-01-02", "to": "2026-01-01"},
                {"from": "2024-01-01", "to": "2026-01-01"}):
        assert client.get(f"/api/v1/channels/{channel['id']}/report", headers=admin,
                          query_string=bad).status_code == 400, bad


def test_the_qr_png_is_fetched_from_wecom_once_and_kept(client, runtime, team, admin) -> None:  # noqa: F811
    code = new_code(client, admin, "海报码")
    first = client.get(f"/api/v1/channel-codes/{code['id']}/qr.png", headers=admin)
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert first.data.startswith(b"\x89PNG\r\n\x1a\n")
    with runtime.WriteSession.begin() as s:  # WeCom's URL stops answering: the stored image still serves
        row = s.get_one(ChannelCode, code["id"])
        assert row.qr_storage_key
        row.qr_code = f"{team.url}/fake/qr/gone.png"
    again = client.get(f"/api/v1/channel-codes/{code['id']}/qr.png", headers=admin)
    assert again.status_code == 200 and again.data == first.data


def test_a_qr_wecom_will_not_give_is_502_and_nothing_is_stored(client, runtime, team, admin) -> None:  # noqa: F811
    code = new_code(client, admin, "海报码")
    with runtime.WriteSession.begin() as s:
        s.get_one(ChannelCode, code["id"]).qr_code = f"{team.url}/fake/qr/gone.png"
    r = client.get(f"/api/v1/channel-codes/{code['id']}/qr.png", headers=admin)
    assert r.status_code == 502 and r.get_json()["error"]["code"] == "bad_gateway"
    with runtime.Session() as s:
        assert s.get_one(ChannelCode, code["id"]).qr_storage_key is None
    assert client.get("/api/v1/channel-codes/99999/qr.png", headers=admin).status_code == 404
    assert Channel  # the grouping model: imported for readers
