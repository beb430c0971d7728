"""The link radar (雷达): a member's tracked link from the sidebar, `/r/<code>` (an open recorded, 302 to
exactly the material's URL; an unknown or malformed code a 404 that goes nowhere), readers counted apart from
opens, the follower's app message at once or in a digest within working hours (the fake WeCom's
message/send), the auto-tag once per customer (its mark_tag), and the dwell / scroll-to-bottom beacons."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from customer_world import all_rows
from jobs.radar import digest
from models import AuditLog, CustomerEvent, Tag
from models.radar import RadarLink, RadarOpen
from sidebar_support import build_world, sign_in
from web.sidebar.radar_api import new_code

CSRF = "X-CSRF-Token"
URL = "https://example.com/brochure?lang=zh&x=1"
WECOM_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile wxwork/4.1.20 MicroMessenger/7.0.1"


@pytest.fixture
def world(sender, client, runtime, fake_wecom, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    admin = make_token("admin", name="setup")
    ids = build_world(sender, client, runtime, fake_wecom.url, admin)
    r = client.post("/api/v1/materials", headers=admin, json={
        "kind": "link", "title": "产品手册", "payload": {"url": URL, "title": "2026 产品手册", "desc": "新品一览",
                                                          "picurl": "https://example.com/cover.png"}})
    assert r.status_code == 201, r.get_json()
    image = client.post("/api/v1/materials", headers=admin, json={
        "kind": "image", "title": "海报", "payload": {"media_id": "MEDIA1"}}).get_json()["id"]
    fake_wecom.clear_calls()
    return {**ids, "admin": admin, "csrf": sign_in(client, fake_wecom.url), "material": r.get_json()["id"],
            "image": image}


def make_link(client: Any, world: dict[str, Any], customer: str = "wmCustomer0001") -> Any:
    return client.post("/sidebar/api/radar-links", headers={CSRF: world["csrf"]},
                       json={"material_id": world["material"], "customer_id": world[customer]})


def open_link(client: Any, code: str, ua: str = WECOM_UA) -> Any:
    return client.get(f"/r/{code}", headers={"User-Agent": ua})


def test_codes_are_unguessable() -> None:
    codes = [new_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", c) for c in codes)  # 24 × 6 bits = 144 ≥ 128
    counts = Counter("".join(codes))  # every position random: the characters spread over all 64
    assert len(counts) == 64
    entropy = -sum(n / sum(counts.values()) * math.log2(n / sum(counts.values())) for n in counts.values())
    assert entropy > 5.9 and entropy * 24 >= 128


def test_a_sent_link_opens_once_recorded_and_redirects_to_exactly_the_material(client, runtime, fake_wecom,
                                                                               world) -> None:
    r = make_link(client, world)
    assert r.status_code == 200, r.get_json()
    link = r.get_json()
    assert link["url"] == f"http://localhost/r/{link['code']}" and link["title"] == "2026 产品手册"
    assert link["desc"] == "新品一览" and link["imgUrl"] == "https://example.com/cover.png"
    assert make_link(client, world).get_json()["code"] == link["code"]  # one per (material, member, customer)
    r = open_link(client, link["code"])
    assert r.status_code == 302 and r.headers["Location"] == URL
    with runtime.Session() as s:
        [opened] = s.scalars(select(RadarOpen)).all()
        assert opened.agent == "wxwork" and opened.notified_at is not None
        event = s.scalar(select(CustomerEvent).where(CustomerEvent.kind == "radar_open"))
        assert event.customer_id == world["wmCustomer0001"] and event.userid == "zhangsan"
        assert event.detail["title"] == "2026 产品手册"
    [sent] = fake_wecom.calls("message/send")  # instant (the default): the follower at once
    assert sent["body"]["touser"] == "zhangsan"
    assert "王小明" in sent["body"]["text"]["content"] and "2026 产品手册" in sent["body"]["text"]["content"]
    page = client.get("/sidebar/customer?external_userid=wmCustomer0001").get_data(as_text=True)
    assert "打开了雷达链接" in page and "「2026 产品手册」" in page


@pytest.mark.parametrize("code", ["", "abc", "A" * 23, "A" * 25, "..%2F..%2Fevil", "%2F%2Fevil.example.com",
                                  "https:%2F%2Fevil.example.com", "A" * 23 + "!", "A" * 200])
def test_a_malformed_code_is_a_404_that_goes_nowhere(client, runtime, world, code) -> None:
    before = all_rows(runtime)
    r = client.get(f"/r/{code}")
    assert r.status_code == 404 and "Location" not in r.headers
    assert all_rows(runtime) == before


def test_an_unknown_code_is_a_404_and_records_nothing(client, runtime, world) -> None:
    make_link(client, world)
    before = all_rows(runtime)
    r = open_link(client, new_code())
    assert r.status_code == 404 and "Location" not in r.headers and "链接不存在" in r.get_data(as_text=True)
    assert all_rows(runtime) == before


def test_a_link_only_for_the_members_customers_and_link_materials(client, runtime, world) -> None:
    before = all_rows(runtime)
    headers = {CSRF: world["csrf"]}
    assert make_link(client, world, "wmCustomer0002").status_code == 404  # lisi's customer
    r = client.post("/sidebar/api/radar-links", headers=headers, json={"material_id": world["image"],
                                                                        "customer_id": world["wmCustomer0001"]})
    assert r.status_code == 422 and "material_id" in r.get_json()["error"]["fields"]
    assert client.post("/sidebar/api/radar-links", headers=headers, json={
        "material_id": 99999, "customer_id": world["wmCustomer0001"]}).status_code == 404
    assert client.post("/sidebar/api/radar-links", json={"material_id": world["material"],
                                                         "customer_id": world["wmCustomer0001"]}).status_code == 403
    assert all_rows(runtime) == before


def test_readers_are_counted_apart_from_opens(app, client, world) -> None:
    code = make_link(client, world).get_json()["code"]
    assert open_link(client, code).status_code == 302
    assert open_link(client, code).status_code == 302  # the same browser again: its reader cookie
    other = app.test_client()
    assert open_link(other, code, ua="Mozilla/5.0 (Windows NT 10.0) Chrome/120").status_code == 302
    assert open_link(other, code, ua="Mozilla/5.0 (compatible; Googlebot/2.1)").status_code == 302  # no open
    assert other.head(f"/r/{code}").status_code == 302  # a link checker: no open
    admin = world["admin"]
    [row] = client.get(f"/api/v1/radar/links?customer_id={world['wmCustomer0001']}", headers=admin).get_json()["items"]
    assert (row["opens"], row["readers"], row["userid"], row["code"]) == (3, 2, "zhangsan", code)
    stats = client.get(f"/api/v1/radar/materials/{world['material']}/stats", headers=admin).get_json()
    assert (stats["links"], stats["opens"], stats["readers"], stats["customers"]) == (1, 3, 2, 1)
    opens = client.get("/api/v1/radar/opens", headers=admin).get_json()
    assert opens["total"] == 3 and sorted(o["agent"] for o in opens["items"]) == ["desktop", "wxwork", "wxwork"]
    assert client.get("/api/v1/radar/links?customer_id=99999", headers=admin).get_json()["total"] == 0


def _next(weekday: int, hour_utc: int) -> dt.datetime:
    """The next such weekday (0 Monday), at least a day from now, at that UTC hour."""
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour_utc), dt.UTC)


def test_batched_followers_get_one_digest_within_working_hours(app, client, runtime, fake_wecom, world) -> None:
    admin = world["admin"]
    r = client.put("/api/v1/radar/settings", headers=admin, json={"notify": "batched", "batch_minutes": 15})
    assert r.status_code == 200 and r.get_json()["notify"] == "batched"
    code = make_link(client, world).get_json()["code"]
    open_link(client, code)
    open_link(app.test_client(), code)
    assert fake_wecom.calls("message/send") == []  # batched: nothing at once
    saturday = _next(5, 3)  # 11:00 in Shanghai, but the default calendar has no weekend hours
    assert digest(runtime, saturday) == 0 and fake_wecom.calls("message/send") == []
    monday = _next(0, 3)  # 11:00 in Shanghai: working time
    assert monday.astimezone(ZoneInfo("Asia/Shanghai")).hour == 11
    assert digest(runtime, monday) == 1
    [sent] = fake_wecom.calls("message/send")
    assert sent["body"]["touser"] == "zhangsan"
    assert "近 15 分钟" in sent["body"]["text"]["content"] and "打开「2026 产品手册」2 次" in sent["body"]["text"]["content"]
    open_link(client, code)
    assert digest(runtime, monday + dt.timedelta(minutes=5)) == 0  # not due yet
    assert digest(runtime, monday + dt.timedelta(minutes=15)) == 1  # the next digest: only the new open
    assert "1 次" in fake_wecom.calls("message/send")[-1]["body"]["text"]["content"]
    assert digest(runtime, monday + dt.timedelta(minutes=30)) == 0  # nothing new
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).where(RadarOpen.notified_at.is_(None))) == 0


def test_off_tells_nobody_and_bad_settings_change_nothing(client, runtime, fake_wecom, world) -> None:
    admin = world["admin"]
    for bad in ({"notify": "sometimes"}, {"notify": "batched", "batch_minutes": 1}, {"notify": "batched",
                                                                                     "batch_minutes": "15"}):
        assert client.put("/api/v1/radar/settings", headers=admin, json=bad).status_code == 422
    assert client.get("/api/v1/radar/settings", headers=admin).get_json()["notify"] == "instant"
    assert client.put("/api/v1/radar/settings", headers=admin, json={"notify": "off"}).status_code == 200
    open_link(client, make_link(client, world).get_json()["code"])
    assert fake_wecom.calls("message/send") == []


def test_auto_tag_once_per_customer(app, client, runtime, fake_wecom, world) -> None:
    admin, material = world["admin"], world["material"]
    url = f"/api/v1/radar/materials/{material}/auto-tag"
    assert client.put(url, headers=admin, json={"tag_id": 99999}).status_code == 422
    r = client.put(url, headers=admin, json={"tag_id": world["A级"]})
    assert r.status_code == 200 and r.get_json() == {"material_id": material, "tag_id": world["A级"]}
    code = make_link(client, world).get_json()["code"]
    open_link(client, code)
    open_link(client, code)
    open_link(app.test_client(), code)
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    with runtime.Session() as s:
        assert call["body"]["userid"] == "zhangsan" and call["body"]["external_userid"] == "wmCustomer0001"
        assert call["body"]["add_tag"] == [s.get(Tag, world["A级"]).tag_id]
        assert s.scalars(select(AuditLog.actor).where(AuditLog.action == "customer.tag")).all() == ["radar:zhangsan"]
    assert client.get(f"/api/v1/radar/materials/{material}/stats", headers=admin).get_json()["auto_tag_id"] == world["A级"]


def test_beacons_record_dwell_and_scroll_for_their_open_only(app, client, runtime, world) -> None:
    code = make_link(client, world).get_json()["code"]
    assert "no radar open" in client.get("/r/beacon.js").get_data(as_text=True)  # no open yet: no script
    open_link(client, code)
    script = client.get("/r/beacon.js")
    assert script.status_code == 200 and f'"/r/{code}/beacon"' in script.get_data(as_text=True)
    beacon = f"/r/{code}/beacon"

    def post(body: str, c: Any = client) -> int:
        return c.post(beacon, data=body, content_type="text/plain").status_code

    def row() -> tuple[int, bool]:
        with runtime.Session() as s:
            o = s.scalars(select(RadarOpen)).one()
            return o.dwell_seconds, o.reached_bottom

    assert post('{"dwell": 20}') == 204 and row() == (20, False)
    assert post('{"dwell": 5}') == 204 and row() == (20, False)  # under 15 s: not dwell
    assert post('{"dwell": 999999}') == 204 and row() == (3600, False)  # capped at an hour
    assert post('{"bottom": true}') == 204 and row() == (3600, True)
    for bad in ('{"dwell": "20"}', "{}", "not json", '{"bottom": false}', '{"dwell": -1}'):
        assert post(bad) == 400
    assert post("x" * 300) == 413
    assert post('{"dwell": 30}', app.test_client()) == 403  # no open in that browser
    other = make_link(client, world, "wmCustomer0001")  # same link: the cookie is bound to its code
    assert other.get_json()["code"] == code
    assert client.post(f"/r/{new_code()}/beacon", data='{"dwell": 30}').status_code == 403
    for _ in range(20 - 4):
        assert post('{"dwell": 16}') == 204
    assert post('{"dwell": 16}') == 429  # bounded: 20 beacons per open
    [link] = client.get("/api/v1/radar/links", headers=world["admin"]).get_json()["items"]
    assert (link["dwelled"], link["bottom"]) == (1, 1)


def test_stats_and_settings_stay_in_scope(app, client, runtime, fake_wecom, make_token, world) -> None:
    code = make_link(client, world).get_json()["code"]
    open_link(client, code)
    lisi = make_token("member", userid="lisi")
    assert client.get("/api/v1/radar/links", headers=lisi).get_json()["total"] == 0
    assert client.get("/api/v1/radar/opens", headers=lisi).get_json()["total"] == 0
    zhangsan = make_token("member", userid="zhangsan")
    assert client.get("/api/v1/radar/opens", headers=zhangsan).get_json()["total"] == 1
    assert client.put("/api/v1/radar/settings", headers=zhangsan, json={"notify": "off"}).status_code == 403
    with runtime.Session() as s:
        assert s.scalar(select(RadarLink.userid).where(RadarLink.code == code)) == "zhangsan"
