"""Group channel codes (群活码): which group a scan of /g/<code> gets under each strategy, the code turning
abnormal (and its owner and creator told once, seen as message/send on the fake WeCom) and recovering,
scans per corp-local day, and bad input refused with nothing written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from group_code_support import add_group_row, b64, entry_count, expire, make_code, png, set_members
from models import AuditLog, GroupCode, GroupCodeDailyStat
from support import CORP_ID


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("admin", userid="zhangsan", name="adm")  # the creator: zhangsan; codes' owner: lisi


def scan(client, code: dict[str, Any]) -> Any:  # type: ignore[no-untyped-def]
    return client.get(code["landing_path"])


def shown(client, code: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    """The chat id whose QR image the landing page answered."""
    r = scan(client, code)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "image/png" and r.headers["Cache-Control"] == "no-store"
    return r.get_data().removeprefix(png("")).decode()


def notices(fake_wecom) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [c for c in fake_wecom.calls("message/send") if "活码失效通知" in c["body"]["text"]["content"]]


def status(client, admin, code) -> str:  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/group-codes/{code['id']}", headers=admin).get_json()["status"]


def test_the_first_group_full_makes_the_code_show_the_second(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    for chat in ("wrA", "wrB"):
        add_group_row(runtime, chat)
    code = make_code(client, admin, ["wrA", "wrB"])
    assert code["status"] == "normal" and [g["chat_id"] for g in code["groups"]] == ["wrA", "wrB"]
    assert client.head(code["landing_path"]).status_code == 200  # a link checker's HEAD is no scan
    assert shown(client, code) == "wrA" and shown(client, code) == "wrA"  # overflow: fill the first
    set_members(runtime, "wrA", 200)
    assert shown(client, code) == "wrB"
    stats = client.get(f"/api/v1/group-codes/{code['id']}/stats", headers=admin).get_json()
    assert stats["scans"] == 3 and stats["by_group"] == [{"chat_id": "wrA", "scans": 2}, {"chat_id": "wrB", "scans": 1}]


def test_every_group_full_or_expired_is_abnormal_and_told_once_then_recovers(client, runtime, admin,
                                                                            fake_wecom) -> None:  # type: ignore[no-untyped-def]
    from jobs.group_codes import group_codes_recheck_job

    for chat in ("wrA", "wrB"):
        add_group_row(runtime, chat)
    code = make_code(client, admin, ["wrA", "wrB"])
    set_members(runtime, "wrA", 200)
    expire(runtime, code["groups"][1]["id"])
    for _ in range(3):
        r = scan(client, code)
        assert r.status_code == 410 and "无法入群" in r.get_json()["error"]["message"]
    assert group_codes_recheck_job() == 0  # still abnormal: no second notice
    assert status(client, admin, code) == "abnormal"
    sent = notices(fake_wecom)
    assert len(sent) == 1 and sent[0]["body"]["touser"] == "lisi|zhangsan"  # owner and creator
    assert "秋季活动群" in sent[0]["body"]["text"]["content"]

    set_members(runtime, "wrA", 150)  # members left: the first group takes people again
    assert shown(client, code) == "wrA" and status(client, admin, code) == "normal"
    assert len(notices(fake_wecom)) == 1
    set_members(runtime, "wrA", 200)  # full again: a new transition, a new notice
    assert scan(client, code).status_code == 410
    assert len(notices(fake_wecom)) == 2
    with runtime.Session() as s:  # every scan counted, those that found no group under ""
        assert s.scalar(select(func.sum(GroupCodeDailyStat.scans)).where(GroupCodeDailyStat.chat_id == "")) == 4


def test_the_periodic_recheck_marks_a_code_abnormal_without_a_scan_and_a_new_qr_recovers_it(
        client, runtime, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    from jobs.group_codes import group_codes_recheck_job

    add_group_row(runtime, "wrA")
    code = make_code(client, admin, ["wrA"])
    expire(runtime, code["groups"][0]["id"])
    assert group_codes_recheck_job() == 1
    assert group_codes_recheck_job() == 0
    assert status(client, admin, code) == "abnormal" and len(notices(fake_wecom)) == 1
    r = client.patch(f"/api/v1/group-codes/{code['id']}/groups/{code['groups'][0]['id']}", headers=admin,
                     json={"qr_image": b64(png("wrA"))})
    assert r.status_code == 200 and r.get_json()["status"] == "normal" and r.get_json()["groups"][0]["usable"]
    assert shown(client, code) == "wrA"


def test_adding_a_group_recovers_an_abnormal_code(client, runtime, admin, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    add_group_row(runtime, "wrA", members=200)
    add_group_row(runtime, "wrB")
    code = make_code(client, admin, ["wrA"])
    assert code["status"] == "abnormal"  # from its creation, with no group: never working, nobody told
    assert notices(fake_wecom) == []
    r = client.post(f"/api/v1/group-codes/{code['id']}/groups", headers=admin,
                    json={"chat_id": "wrB", "qr_image": b64(png("wrB"))})
    assert r.status_code == 201 and r.get_json()["status"] == "normal"
    assert shown(client, code) == "wrB"


def test_round_robin_takes_turns_among_the_usable_groups(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    for chat in ("wrA", "wrB", "wrC"):
        add_group_row(runtime, chat)
    code = make_code(client, admin, ["wrA", "wrB", "wrC"], strategy="round_robin")
    assert [shown(client, code) for _ in range(4)] == ["wrA", "wrB", "wrC", "wrA"]
    set_members(runtime, "wrC", 200)
    assert [shown(client, code) for _ in range(3)] == ["wrB", "wrA", "wrB"]


def test_nearest_expiry_shows_the_qr_that_expires_first(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    for chat in ("wrA", "wrB", "wrC"):
        add_group_row(runtime, chat)
    code = make_code(client, admin, [], strategy="nearest_expiry")
    today = dt.date.today()
    for chat, days in (("wrA", 5), ("wrB", 2), ("wrC", 3)):
        r = client.post(f"/api/v1/group-codes/{code['id']}/groups", headers=admin,
                        json={"chat_id": chat, "qr_image": b64(png(chat)),
                              "expires_on": (today + dt.timedelta(days=days)).isoformat()})
        assert r.status_code == 201, r.get_json()
    assert shown(client, code) == "wrB"
    set_members(runtime, "wrB", 200)
    assert shown(client, code) == "wrC"


def test_reordering_changes_which_group_overflow_fills_first(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    for chat in ("wrA", "wrB"):
        add_group_row(runtime, chat)
    code = make_code(client, admin, ["wrA", "wrB"])
    first, second = (g["id"] for g in code["groups"])
    r = client.put(f"/api/v1/group-codes/{code['id']}/groups/order", headers=admin, json={"entry_ids": [first]})
    assert r.status_code == 422 and "entry_ids" in r.get_json()["error"]["fields"]
    r = client.put(f"/api/v1/group-codes/{code['id']}/groups/order", headers=admin,
                   json={"entry_ids": [second, first]})
    assert r.status_code == 200 and [g["chat_id"] for g in r.get_json()["groups"]] == ["wrB", "wrA"]
    assert shown(client, code) == "wrB"
    r = client.delete(f"/api/v1/group-codes/{code['id']}/groups/{second}", headers=admin)
    assert r.status_code == 200 and [g["chat_id"] for g in r.get_json()["groups"]] == ["wrA"]
    assert shown(client, code) == "wrA"


def test_scans_are_counted_per_corp_local_day(client, runtime, admin, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import web.api_group_codes
    import web.group_landing

    add_group_row(runtime, "wrA")
    code = make_code(client, admin, ["wrA"])
    # Shanghai's midnight is 16:00 UTC: 15:59 is still the 27th there, 16:01 already the 28th.
    for at in ("2026-11-27T15:59:00", "2026-11-27T15:59:30", "2026-11-27T16:01:00"):
        monkeypatch.setattr(web.group_landing, "utcnow", lambda at=at: dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC))
        assert shown(client, code) == "wrA"
    monkeypatch.setattr(web.api_group_codes, "utcnow", lambda: dt.datetime(2026, 11, 28, 8, tzinfo=dt.UTC))
    stats = client.get(f"/api/v1/group-codes/{code['id']}/stats", headers=admin, query_string={"days": 3}).get_json()
    assert stats["days"] == [{"day": "2026-11-26", "scans": 0, "joins": 0}, {"day": "2026-11-27", "scans": 2, "joins": 0},
                             {"day": "2026-11-28", "scans": 1, "joins": 0}]


def test_bad_input_is_refused_and_nothing_is_written(client, runtime, admin, make_token) -> None:  # type: ignore[no-untyped-def]
    add_group_row(runtime, "wrA")
    add_group_row(runtime, "wrOther", corp="wwothercorp00001")
    code = make_code(client, admin, [])
    url = f"/api/v1/group-codes/{code['id']}/groups"
    with runtime.Session() as s:
        audits = s.scalar(select(func.count()).select_from(AuditLog))
    cases = [
        ({"chat_id": "wrNobody", "qr_image": b64(png("x"))}, "chat_id"),
        ({"chat_id": "wrOther", "qr_image": b64(png("x"))}, "chat_id"),  # another corp's group
        ({"chat_id": "wrA", "qr_image": b64(png("x", size=2 * 1024 * 1024))}, "qr_image"),  # over 2 MB
        ({"chat_id": "wrA", "qr_image": b64(b"GIF89a not a png")}, "qr_image"),
        ({"chat_id": "wrA", "qr_image": "not base64!"}, "qr_image"),
        ({"chat_id": "wrA", "qr_image": b64(png("x")),
          "expires_on": (dt.date.today() + dt.timedelta(days=9)).isoformat()}, "expires_on"),
        ({"chat_id": "wrA", "qr_image": b64(png("x")), "expires_on": "2020-01-01"}, "expires_on"),
    ]
    for body, field in cases:
        r = client.post(url, headers=admin, json=body)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (field, r.get_json())
    assert entry_count(runtime) == 0
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == audits
    r = client.post("/api/v1/group-codes", headers=make_token("admin", name="nouser"),
                    json={"corp_id": CORP_ID, "name": "x", "channel": "y"})
    assert r.status_code == 422 and r.get_json()["error"]["fields"] == {"owner": "required"}
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(GroupCode)) == 1


def test_the_landing_route_answers_404_for_unknown_or_deleted_codes(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    add_group_row(runtime, "wrA")
    code = make_code(client, admin, ["wrA"])
    slug = code["landing_path"].removeprefix("/g/")
    assert len(slug) >= 32
    for path in ("/g/" + "x" * 32, "/g/short", "/g/" + slug[:-1] + ("A" if slug[-1] != "A" else "B"), "/g/%2e%2e"):
        r = client.get(path)
        assert r.status_code == 404 and "Location" not in r.headers, path
    assert client.delete(f"/api/v1/group-codes/{code['id']}", headers=admin).status_code == 200
    assert client.get(code["landing_path"]).status_code == 404
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(GroupCodeDailyStat)) == 0  # no scan was counted


def test_another_corps_token_sees_no_code(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    from models.corp import save_app
    from web.auth import create_token

    add_group_row(runtime, "wrA")
    code = make_code(client, admin, ["wrA"])
    with runtime.WriteSession.begin() as s:
        save_app(s, {"slug": "other", "corp_id": "wwothercorp00001", "kind": "agent", "token": "T", "secret": "s",
                     "aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"})
        other = {"Authorization": "Bearer " + create_token(s, "o", "admin", corp_id="wwothercorp00001")}
    assert client.get(f"/api/v1/group-codes/{code['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/group-codes", headers=other).get_json()["items"] == []
    r = client.patch(f"/api/v1/group-codes/{code['id']}", headers=other, json={"name": "evil"})
    assert r.status_code == 404
    assert client.get(f"/api/v1/group-codes/{code['id']}", headers=admin).get_json()["name"] == "秋季活动群"


def test_a_qr_image_of_almost_2_mb_is_kept_and_served_whole(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    """Over the API's usual 1 MiB body as base64, so the route's own limit is what lets it in; on MariaDB
    the column must be a MEDIUMBLOB (a BLOB stops at 64 KiB)."""
    add_group_row(runtime, "wrA")
    code = make_code(client, admin, [])
    image = png("wrA", size=2 * 1024 * 1024 - 20)
    r = client.post(f"/api/v1/group-codes/{code['id']}/groups", headers=admin,
                    json={"chat_id": "wrA", "qr_image": b64(image)})
    assert r.status_code == 201 and r.get_json()["groups"][0]["image_bytes"] == len(image)
    assert scan(client, code).get_data() == image
    r = client.post("/api/v1/group-codes", headers=admin, json={"corp_id": CORP_ID, "name": "x", "channel": "y",
                                                                "guide": "x" * (2 * 1024 * 1024)})
    assert r.status_code == 413  # other routes keep the usual limit
