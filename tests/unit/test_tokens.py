"""API tokens: expiry and revoke (CLI and API), the corp a token naming a userid is bound to, the bot's
role read from tokens of the callback's corp only, and the admin API's request-size limit (issue 19)."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from bot_support import Bot
from models import ApiToken, AuditLog, CustomField, Inbox
from models.corp import save_app
from models.db import utcnow
from support import AGENT_ID, CORP_ID, MISSING_ID, Sender
from web.auth import create_token, hash_token
from wecom.crypto import CallbackCrypto

CORP_B = "wwcorpb000000001"
B_APP = {"slug": "corpb", "corp_id": CORP_B, "kind": "agent", "token": "CorpBToken1",
         "aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", "secret": "corp-b-secret", "agent_id": AGENT_ID}


@pytest.fixture
def run(app):  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def corp_b(runtime) -> None:  # type: ignore[no-untyped-def]
    """A second corp with its own self-built app at /wecom/callback/corpb."""
    with runtime.WriteSession.begin() as s:
        save_app(s, B_APP)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tokens(runtime) -> list[ApiToken]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return list(s.scalars(select(ApiToken).order_by(ApiToken.id)))


def legacy_token(runtime, role: str, userid: str | None, corp_id: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A token row as older versions wrote it (no corp check at creation)."""
    with runtime.WriteSession.begin() as s:
        s.add(ApiToken(name="legacy", role=role, token_hash=hash_token(f"legacy-{role}-{userid}"), userid=userid,
                       corp_id=corp_id))
    return bearer(f"legacy-{role}-{userid}")


# -- CLI: create with expiry, list without secrets, revoke ------------------------------------------------
def test_cli_token_expires_in_90_days_by_default_and_as_asked(run, runtime) -> None:
    assert run("token", "create", "--role", "admin", "--name", "default").exit_code == 0
    assert run("token", "create", "--role", "admin", "--name", "week", "--expires-in", "7d").exit_code == 0
    assert run("token", "create", "--role", "admin", "--name", "ci", "--expires-in", "never").exit_code == 0
    result = run("token", "create", "--role", "admin", "--name", "at", "--expires-at", "2099-01-02T03:04:05+08:00")
    assert result.exit_code == 0, result.output
    rows = {r.name: r for r in tokens(runtime)}
    now = utcnow()
    assert abs(rows["default"].expires_at - (now + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    assert abs(rows["week"].expires_at - (now + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    assert rows["ci"].expires_at is None
    assert rows["at"].expires_at == dt.datetime(2099, 1, 1, 19, 4, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize("args,message", [
    (["--expires-in", "90"], "expires_in must be"),
    (["--expires-in", "-1d"], "expires_in must be"),
    (["--expires-in", "1y"], "expires_in must be"),
    (["--expires-at", "2020-01-01T00:00:00Z"], "in the past"),
    (["--expires-at", "tomorrow"], "ISO 8601"),
    (["--expires-in", "1d", "--expires-at", "2099-01-01"], "not both"),
    (["--name", "x" * 65], "name must be"),
])
def test_cli_refuses_a_bad_expiry_and_stores_nothing(run, runtime, args: list[str], message: str) -> None:
    result = run("token", "create", "--role", "admin", "--name", "bad", *args)
    assert result.exit_code == 2 and message in result.output
    assert tokens(runtime) == []


def test_cli_list_shows_no_secret_and_revoke_makes_the_token_401(run, runtime, client) -> None:
    token = run("token", "create", "--role", "super_admin", "--name", "ops").output.strip().splitlines()[-1]
    assert client.get("/api/v1/apps", headers=bearer(token)).status_code == 200
    listed = run("token", "list")
    assert listed.exit_code == 0
    row = json.loads(listed.output)
    assert row["name"] == "ops" and row["status"] == "active" and row["revoked_at"] is None
    assert token not in listed.output and hash_token(token) not in listed.output

    assert run("token", "revoke", str(row["id"])).output.strip() == f"token {row['id']} revoked"
    r = client.get("/api/v1/apps", headers=bearer(token))
    assert r.status_code == 401 and r.get_json()["error"]["message"] == "this token is revoked"
    assert run("token", "list").output == ""  # only live ones by default
    assert json.loads(run("token", "list", "--all").output)["status"] == "revoked"
    missing = run("token", "revoke", str(MISSING_ID))
    assert missing.exit_code == 1 and f"no token {MISSING_ID}" in missing.output
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "token.revoke")) == 1


def test_an_expired_token_gets_401(runtime, client) -> None:
    with runtime.WriteSession.begin() as s:
        token = create_token(s, "soon", "super_admin", expires_at=utcnow() + dt.timedelta(hours=1))
    assert client.get("/api/v1/apps", headers=bearer(token)).status_code == 200
    with runtime.WriteSession.begin() as s:
        s.scalar(select(ApiToken)).expires_at = utcnow() - dt.timedelta(seconds=1)
    r = client.get("/api/v1/apps", headers=bearer(token))
    assert r.status_code == 401 and r.get_json() == {"error": {"code": "unauthorized",
                                                               "message": "this token is expired"}}


# -- a token naming a userid is bound to a corp ----------------------------------------------------------
def test_a_member_token_is_bound_to_the_only_corp(run, runtime) -> None:
    assert run("token", "create", "--role", "member", "--name", "zs", "--userid", "zhangsan").exit_code == 0
    assert [(t.userid, t.corp_id) for t in tokens(runtime)] == [("zhangsan", CORP_ID)]


def test_with_several_corps_a_token_naming_a_userid_must_name_its_corp(run, runtime, corp_b) -> None:
    for role in ("member", "admin"):
        result = run("token", "create", "--role", role, "--name", "zs", "--userid", "zhangsan")
        assert result.exit_code == 2 and "needs its corp (--corp-id" in result.output
    assert tokens(runtime) == []
    assert run("token", "create", "--role", "member", "--name", "zs", "--userid", "zhangsan",
               "--corp-id", CORP_B).exit_code == 0
    assert run("token", "create", "--role", "admin", "--name", "ops").exit_code == 0  # no userid: every corp
    assert [(t.name, t.corp_id) for t in tokens(runtime)] == [("zs", CORP_B), ("ops", None)]


def test_a_corp_less_member_token_is_refused_once_there_are_several_corps(runtime, client) -> None:
    member = legacy_token(runtime, "member", "zhangsan")
    assert client.get("/api/v1/customers", headers=member).status_code == 200  # one corp: that one
    with runtime.WriteSession.begin() as s:
        save_app(s, B_APP)
    r = client.get("/api/v1/customers", headers=member)
    assert r.status_code == 403
    assert "names no corp" in r.get_json()["error"]["message"]


# -- the API: list, create, revoke, bound to the caller's corp ------------------------------------------
def test_api_creates_lists_and_revokes_tokens(client, runtime, make_token) -> None:
    ops = make_token("super_admin", name="ops")
    r = client.post("/api/v1/tokens", headers=ops, json={"name": "zs", "role": "member", "userid": "zhangsan",
                                                          "expires_in": "12h"})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert (made["corp_id"], made["status"], made["role"]) == (CORP_ID, "active", "member")
    assert client.get("/api/v1/customers", headers=bearer(made["token"])).status_code == 200

    listed = client.get("/api/v1/tokens", headers=ops)
    assert listed.status_code == 200 and listed.get_json()["total"] == 2
    assert made["token"] not in listed.get_data(as_text=True)
    assert all("token" not in item and "token_hash" not in item for item in listed.get_json()["items"])

    r = client.post(f"/api/v1/tokens/{made['id']}/revoke", headers=ops)
    assert r.status_code == 200 and r.get_json()["status"] == "revoked"
    assert client.get("/api/v1/customers", headers=bearer(made["token"])).status_code == 401
    assert client.post(f"/api/v1/tokens/{MISSING_ID}/revoke", headers=ops).status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "role": "god"}, "role must be"),
    ({"name": "", "role": "admin"}, "name must be"),
    ({"name": "x", "role": "member"}, "userid"),
    ({"name": "x", "role": "admin", "expires_in": "forever"}, "expires_in"),
    ({"name": "x", "role": "admin", "expires_at": "2001-01-01T00:00:00Z"}, "in the past"),
    ({"name": 5, "role": "admin"}, "name"),
])
def test_api_refuses_a_bad_token_and_stores_nothing(client, runtime, make_token, body: dict[str, Any],
                                                    field: str) -> None:
    ops = make_token("super_admin", name="ops")
    r = client.post("/api/v1/tokens", headers=ops, json=body)
    assert r.status_code == 422 and field in json.dumps(r.get_json()["error"])
    assert len(tokens(runtime)) == 1


def test_admins_and_members_cannot_manage_tokens(client, make_token) -> None:
    for headers in (make_token("admin"), make_token("member", userid="zhangsan")):
        assert client.get("/api/v1/tokens", headers=headers).status_code == 403
        assert client.post("/api/v1/tokens", headers=headers, json={"name": "x", "role": "admin"}).status_code == 403


def test_a_corp_bound_super_admin_manages_its_corps_tokens_only(client, runtime, make_token, corp_b) -> None:
    other = make_token("super_admin", name="all-corps")
    with runtime.WriteSession.begin() as s:
        b_ops = bearer(create_token(s, "b-ops", "super_admin", corp_id=CORP_B))
        a_member_id = s.scalar(select(ApiToken.id).where(ApiToken.name == "all-corps"))
    r = client.post("/api/v1/tokens", headers=b_ops, json={"name": "x", "role": "admin", "corp_id": CORP_ID})
    assert r.status_code == 403
    r = client.post("/api/v1/tokens", headers=b_ops, json={"name": "b-admin", "role": "admin"})
    assert r.status_code == 201 and r.get_json()["corp_id"] == CORP_B  # never a token for every corp
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=b_ops).get_json()["items"]] == ["b-ops", "b-admin"]
    assert client.post(f"/api/v1/tokens/{a_member_id}/revoke", headers=b_ops).status_code == 404
    assert client.get("/api/v1/apps", headers=other).status_code == 200  # still works
    r = client.post("/api/v1/tokens", headers=other, json={"name": "zs", "role": "member", "userid": "zhangsan"})
    assert r.status_code == 422 and "needs its corp" in r.get_json()["error"]["message"]
    assert len(tokens(runtime)) == 3


# -- the bot reads roles from tokens of the callback's corp --------------------------------------------------
SCOPE_ADMIN, SCOPE_MEMBER = "你的身份：管理员，可以看到全企业的客户。", "你的身份：成员，只能看到和操作你跟进的客户。"


def test_the_bot_grants_a_token_role_only_in_the_tokens_corp(runtime, sender, crypto, client, corp_b) -> None:
    bot_a = Bot(sender, crypto)
    crypto_b = CallbackCrypto(B_APP["token"], B_APP["aes_key"], CORP_B)
    bot_b = Bot(Sender(client, crypto_b, slug="corpb"), crypto_b)
    legacy_token(runtime, "admin", "boss")  # names no corp: with two corps, boss of which?
    assert bot_a.ask("/help", userid="boss").endswith(SCOPE_MEMBER)
    assert bot_b.ask("/help", userid="boss").endswith(SCOPE_MEMBER)
    with runtime.WriteSession.begin() as s:
        create_token(s, "boss-a", "admin", userid="boss", corp_id=CORP_ID)
    assert bot_a.ask("/help", userid="boss").endswith(SCOPE_ADMIN)
    assert bot_b.ask("/help", userid="boss").endswith(SCOPE_MEMBER)


def test_the_bot_ignores_expired_tokens(runtime, sender, crypto) -> None:
    with runtime.WriteSession.begin() as s:
        create_token(s, "boss", "admin", userid="boss", expires_at=utcnow() + dt.timedelta(hours=1))
    bot = Bot(sender, crypto)
    assert bot.ask("/help", userid="boss").endswith(SCOPE_ADMIN)
    with runtime.WriteSession.begin() as s:
        s.scalar(select(ApiToken)).expires_at = utcnow() - dt.timedelta(seconds=1)
    assert bot.ask("/help", userid="boss").endswith(SCOPE_MEMBER)


# -- request-size limit ---------------------------------------------------------------------------------
@pytest.fixture
def small_limit(settings, app):  # type: ignore[no-untyped-def]
    """The app with SCRM_API_MAX_BODY_BYTES at 2000. It asks for `app` only for what that fixture clears: the
    per-process caches (the callback's app cache would otherwise keep an app row an earlier test deleted,
    whose id MariaDB does not hand out again)."""
    from app import create_app

    flask_app = create_app({"TESTING": True}, settings=settings.with_overrides(api_max_body_bytes=2000))
    yield flask_app
    flask_app.extensions["scrm"].engine.dispose()


def test_an_admin_api_body_over_the_limit_is_413_and_changes_nothing(small_limit) -> None:
    client, runtime = small_limit.test_client(), small_limit.extensions["scrm"]
    with runtime.WriteSession.begin() as s:
        ops = bearer(create_token(s, "ops", "super_admin"))
    big = {"key": "note", "label": "备注" * 600, "type": "text"}
    r = client.post("/api/v1/custom-fields", headers=ops, json=big)
    assert r.status_code == 413
    assert r.get_json() == {"error": {"code": "too_large", "message": "the request body is over 2000 bytes"}}

    chunked = {"wsgi.input_terminated": True, "CONTENT_LENGTH": ""}  # no length, as a chunked body arrives
    r = client.post("/api/v1/custom-fields", headers={**ops, "Content-Type": "application/json"},
                    input_stream=io.BytesIO(json.dumps(big).encode()), environ_overrides=chunked)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(CustomField)) == 0
    small = {"key": "note", "label": "备注", "type": "text"}
    assert client.post("/api/v1/custom-fields", headers=ops, json=small).status_code == 201


def test_the_api_limit_leaves_callbacks_and_the_export_alone(small_limit, crypto) -> None:
    client, runtime = small_limit.test_client(), small_limit.extensions["scrm"]
    sender = Sender(client, crypto)
    assert sender.post("change_external_contact/add_external_contact", ExternalUserID="wmCustomer0001",
                       UserID="zhangsan").status_code == 200
    long_text = sender.xml("message/text", Content="你好" * 1500, FromUserName="zhangsan", MsgId=990001)
    assert len(long_text.encode()) > 2000
    assert sender.post_xml(long_text).status_code == 200  # the callback keeps its own limit (64 KiB)
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Inbox)) == 2
    with runtime.WriteSession.begin() as s:
        ops = bearer(create_token(s, "ops", "super_admin"))
    r = client.get("/api/v1/customers/export.csv", headers=ops)
    assert r.status_code == 200 and "王小明" in r.get_data(as_text=True)
