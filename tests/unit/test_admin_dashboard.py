"""The dashboard's sign-in and pages (web/admin/): a token typed into the form becomes a signed HttpOnly cookie
holding the token's hash, which stands for the token on the admin API's reads only; a bad, revoked or forged
sign-in gets nothing; the page loads Chart.js from the package, never from another site."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from models import ApiToken
from models.db import utcnow
from support import CORP_ID
from web.auth import create_token

VENDORED = Path(__file__).resolve().parents[2] / "web" / "admin" / "static" / "vendor" / "chart.umd.min.js"


def sign_in(client, runtime, role: str = "admin", userid: str | None = None) -> str:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        token = create_token(s, "dash", role, userid=userid, corp_id=CORP_ID if userid else None)
    answer = client.post("/admin/login", data={"token": token})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/admin/")
    return token


def test_without_a_session_the_page_sends_to_the_sign_in_and_the_api_says_401(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/admin/")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/admin/login")
    assert client.get("/admin/login").status_code == 200
    assert client.get("/api/v1/stats/customers").status_code == 401


def test_a_good_token_signs_in_with_a_cookie_that_holds_no_token(client, runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        token = create_token(s, "dash", "admin")
    answer = client.post("/admin/login", data={"token": token})
    cookie = answer.headers["Set-Cookie"]
    assert answer.status_code == 303
    assert cookie.startswith("scrm_admin=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/;" in cookie and token not in cookie
    page = client.get("/admin/")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    html = page.get_data(as_text=True)
    assert "/admin/static/vendor/chart.umd.min.js" in html and "/admin/static/dashboard.js" in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", html)  # nothing from another site
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/api/v1/stats/customers").status_code == 200  # the cookie signs reads in


def test_the_cookie_never_writes(client, runtime) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, runtime)
    answer = client.put("/api/v1/stats/visit-settings", json={"extra_days": [2], "skip_non_workdays": True})
    assert answer.status_code == 401
    assert client.get("/api/v1/stats/visit-settings").get_json()["extra_days"] == []


def test_bad_tokens_get_no_session(client, runtime) -> None:  # type: ignore[no-untyped-def]
    for token, status in (("scrm_nonsense", 401), ("", 400), ("x" * 201, 400)):
        answer = client.post("/admin/login", data={"token": token})
        assert answer.status_code == status and "Set-Cookie" not in answer.headers
    client.set_cookie("scrm_admin", "forged.value.here", path="/")
    assert client.get("/admin/").status_code == 303
    assert client.get("/api/v1/stats/customers").status_code == 401


def test_a_revoked_token_ends_its_session(client, runtime) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, runtime)
    with runtime.WriteSession.begin() as s:
        s.scalar(select(ApiToken).where(ApiToken.name == "dash")).revoked_at = utcnow()
    assert client.get("/admin/").status_code == 303
    assert client.get("/api/v1/stats/customers").status_code == 401


def test_sign_out_needs_the_pages_csrf_token(client, runtime) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, runtime)
    assert client.post("/admin/logout").status_code == 403
    assert client.get("/admin/").status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin/").get_data(as_text=True))[1]  # type: ignore[index]
    answer = client.post("/admin/logout", data={"csrf": csrf})
    assert answer.status_code == 303
    assert client.get("/admin/").status_code == 303


def test_a_member_signs_in_to_their_own_figures(client, runtime) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, runtime, "member", "zhangsan")
    assert client.get("/api/v1/stats/customers").get_json()["userids"] == ["zhangsan"]


def test_chart_js_is_served_from_the_package(client) -> None:  # type: ignore[no-untyped-def]
    answer = client.get("/admin/static/vendor/chart.umd.min.js")
    assert answer.status_code == 200 and answer.data == VENDORED.read_bytes()
    assert b"Chart.js v4.6.1" in answer.data[:200]
