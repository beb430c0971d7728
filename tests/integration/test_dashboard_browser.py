"""The dashboard (/admin/) in a real browser: Debian's headless Chromium driven by Playwright (never a browser
download), the service on a real HTTP server. An admin signs in with an API token through the form; the page
draws its charts from the admin API with the session cookie. The test reads each chart's numbers out of
Chart.js (`window.scrmDashboard.charts`) and checks them against the API's JSON fetched with the same token in
the Authorization header, and writes a 1280×900 screenshot to the test's tmp dir and tests/artifacts/
(README's docs/screenshots/dashboard.png is a copy). A member signs in through WeCom (the fake's authorize
page) and sees their own figures; one whose role may not read them is refused. Without chromium this skips
locally; under CI it fails."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

from sqlalchemy import select

from models import AccessRole, App, Customer, MassMessage, MassRecipient, MemberRole, Opportunity, StageChange
from sidebar_support import build_world, choose
from stats_support import PERIOD, at, build
from support import CORP_ID
from test_sidebar_browser import ARTIFACTS, browser, served  # noqa: F401  (fixtures)
from web.auth import create_token

DESKTOP = {"width": 1280, "height": 900}


def deals(client, runtime, admin: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Stages through the API; three deals created in the period (rows: the API stamps "now")."""
    stages = {}
    for name, probability in (("初步接洽", 10), ("演示", 40), ("合同签约", 80)):
        answer = client.post("/api/v1/opportunity-stages", headers=admin,
                             json={"corp_id": CORP_ID, "name": name, "probability": probability})
        stages[name] = answer.get_json()["id"]
    with runtime.WriteSession.begin() as s:
        customer = s.scalar(select(Customer.id).where(Customer.external_userid == "wmc1"))
        for n, (stage, owner) in enumerate((("初步接洽", "zhangsan"), ("演示", "zhangsan"), ("演示", "lisi"))):
            made = at(2026, 3, 2 + n, 10)
            deal = Opportunity(corp_id=CORP_ID, customer_id=customer, name=f"合同{n}", stage_id=stages[stage],
                               amount_cents=100_000 * (n + 1), expected_close=dt.date(2026, 6, 30), owner_userid=owner,
                               created_by="test", created_at=made)
            s.add(deal)
            s.flush()
            s.add(StageChange(opportunity_id=deal.id, to_stage_id=stages[stage], userid=owner, actor="test", at=made))


def mass_messages(runtime) -> None:  # type: ignore[no-untyped-def]
    """Two sent mass messages (rows, as the send and the results collection leave them): 5 and 3 targets,
    4 and 0 of them delivered."""
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id).where(App.slug == "default"))
        for text, target, delivered in (("双十一活动通知", 5, 4), ("新品上市", 3, 0)):
            m = MassMessage(corp_id=CORP_ID, app_pk=app_pk, text=text, status="sent", target_count=target,
                            created_by="token:test")
            s.add(m)
            s.flush()
            s.add_all(MassRecipient(message_id=m.id, corp_id=CORP_ID, target=f"wm{m.id}-{n}", sender="zhangsan",
                                    status="sent" if n < delivered else "pending") for n in range(target))


def chart(page: Any, name: str) -> dict[str, Any]:
    return page.evaluate(f"""(() => {{ const c = window.scrmDashboard.charts[{name!r}];
        return {{labels: c.data.labels, sets: c.data.datasets.map(d => d.data)}}; }})()""")


def test_the_dashboard_draws_the_apis_numbers(browser, served, client, runtime, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    build(runtime)
    with runtime.WriteSession.begin() as s:
        token = create_token(s, "dashboard", "admin")
    admin = {"Authorization": f"Bearer {token}"}
    deals(client, runtime, admin)
    mass_messages(runtime)
    api = {path: client.get(f"/api/v1/{path}", headers=admin, query_string={**PERIOD, **extra}).get_json()
           for path, extra in (("stats/customers", {}), ("stats/staff", {}), ("funnel", {"all": "true"}))}
    api["mass-messages"] = client.get("/api/v1/mass-messages", headers=admin, query_string={"page_size": 8}).get_json()

    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    offsite: list[str] = []
    page.on("request", lambda r: offsite.append(r.url) if not r.url.startswith(served) else None)
    page.goto(f"{served}/admin/?from={PERIOD['from']}&to={PERIOD['to']}")
    page.wait_for_url("**/admin/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(f"{served}/admin/?from={PERIOD['from']}&to={PERIOD['to']}")
    page.wait_for_selector("#dashboard[data-state=ready]", timeout=15000)
    path = tmp_path / "dashboard.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / "dashboard.png")

    customers, staff, funnel = api["stats/customers"], api["stats/staff"], api["funnel"]
    assert [page.text_content(f"#card-{k}") for k in ("new", "lost", "net")] == [
        str(customers[k]) for k in ("new", "lost", "net")]
    assert page.text_content("#card-previous") == str(customers["previous"]["new"])
    assert page.text_content("#card-new-change") == "环比 +50.0%" and customers["new_change"] == 0.5
    trend = chart(page, "trend")
    assert trend["labels"] == [d["day"] for d in customers["days"]]
    assert trend["sets"] == [[d[k] for d in customers["days"]] for k in ("new", "lost", "net")]
    channels = chart(page, "channels")
    assert channels["labels"] == [c["channel"] or "未标记渠道" for c in customers["by_channel"]]
    assert channels["sets"] == [[c["new"] for c in customers["by_channel"]]]
    ranking = chart(page, "staff")
    assert ranking["labels"] == [i["name"] for i in staff["items"]] == ["张三", "李四"]
    assert ranking["sets"] == [[i["customers_added"] for i in staff["items"]], [i["follow_ups"] for i in staff["items"]]]
    drawn = chart(page, "funnel")
    open_stages = [st for st in funnel["stages"] if st["outcome"] != "lost"]
    assert drawn["labels"] == [st["name"] for st in open_stages]
    assert drawn["sets"] == [[st["count"] for st in open_stages]] and funnel["deals"] == 3
    sent = api["mass-messages"]["items"]
    mass = chart(page, "mass")
    assert mass["labels"] == [f"#{m['id']} {m['text'][:10]}" for m in sent]
    assert mass["sets"] == [[m["funnel"]["target"] for m in sent], [m["funnel"]["delivered"] for m in sent],
                            [0, 0]] and [m["funnel"]["delivered"] for m in sent] == [0, 4]  # read: WeCom gives none
    assert errors == [] and offsite == []
    context.close()


def test_a_member_signs_in_through_wecom_and_one_without_the_role_is_refused(  # type: ignore[no-untyped-def]
        browser, served, sender, client, runtime, fake_wecom, make_token) -> None:  # noqa: F811
    """The sign-in page's "使用企业微信登录" → the fake WeCom's authorize page → the callback → the dashboard,
    drawn with the member's own figures; a member whose role may not read them gets the sign-in page with a 403."""
    build_world(sender, client, runtime, fake_wecom.url, make_token("admin", name="setup"))
    with runtime.WriteSession.begin() as s:
        clerk = AccessRole(corp_id=CORP_ID, name="客服", permissions={"customers": ["read"]}, data_scope="self")
        s.add(clerk)
        s.flush()
        s.add(MemberRole(corp_id=CORP_ID, userid="lisi", role_id=clerk.id))
    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    choose(fake_wecom.url, userid="zhangsan")
    page.goto(f"{served}/admin/")
    page.wait_for_url("**/admin/login")
    page.click("#wecom-sign-in")  # → the fake's authorize page → /admin/oauth/callback → /admin/
    page.wait_for_url(f"{served}/admin/", timeout=15000)
    page.wait_for_selector("#dashboard[data-state=ready]", timeout=15000)
    assert "zhangsan" in page.text_content(".who")
    cookie = [c for c in context.cookies() if c["name"] == "scrm_admin"]
    assert cookie and cookie[0]["httpOnly"] and cookie[0]["sameSite"] == "Strict"
    mine = page.evaluate("fetch('/api/v1/stats/customers').then(r => r.json())")
    assert mine["userids"] == ["zhangsan"]
    context.clear_cookies()
    choose(fake_wecom.url, userid="lisi")
    page.goto(f"{served}/admin/login")
    with page.expect_response(lambda r: "/admin/oauth/callback" in r.url) as answer:
        page.click("#wecom-sign-in")
    assert answer.value.status == 403
    page.wait_for_selector("text=无权访问")
    assert [c for c in context.cookies() if c["name"] == "scrm_admin"] == []
    assert errors == []
    context.close()
