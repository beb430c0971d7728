"""gettoken answering 40001 means the app's secret is wrong (PROTOCOL.md; the global errcode table): the
service stops asking (WeCom bans an IP after repeated wrong secrets), shows the app's credentials broken in
GET /apps and /healthz, dead-letters what needed the app with that reason, and the next secret change
clears it."""

from __future__ import annotations

from sqlalchemy import select

from models import DeadLetter, Outbox
from tests.support import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN


def set_secret_by_cli(app, secret: str) -> None:  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=[
        "apps", "add", "--slug", "default", "--corp-id", CORP_ID, "--token", TOKEN, "--aes-key", AES_KEY,
        "--secret", secret, "--agent-id", str(AGENT_ID)])
    assert result.exit_code == 0, result.output


def sync(client, headers, runtime) -> None:  # type: ignore[no-untyped-def]
    """Ask for a directory sync (an effect that needs the app's token), as a new request each time."""
    with runtime.WriteSession.begin() as s:
        for row in s.scalars(select(Outbox).where(Outbox.job == "sync_directory")):
            row.key = f"{row.key}:{row.id}"  # the per-minute key would fold a second request into the first
    assert client.post("/api/v1/directory/sync", headers=headers).status_code == 202


def test_wrong_secret_stops_gettoken_shows_broken_and_a_new_secret_clears_it(app, client, make_token, runtime,
                                                                              fake_wecom):
    admin = make_token("super_admin")
    set_secret_by_cli(app, "a-wrong-secret")
    fake_wecom.clear_calls()
    sync(client, admin, runtime)
    sync(client, admin, runtime)

    assert [c["errcode"] for c in fake_wecom.calls("gettoken")] == [40001]  # asked once, never again
    shown = client.get("/api/v1/apps", headers=admin).get_json()["items"][0]
    assert shown["credentials"] == "broken" and shown["credentials_broken_at"]
    assert client.get("/healthz").get_json()["apps_credentials_broken"] == ["default"]
    with runtime.Session() as s:
        dead = s.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
        assert len(dead) == 2 and all("app credentials broken: gettoken answered 40001" in d.error for d in dead)

    r = client.patch("/api/v1/apps/default", json={"secret": SECRET}, headers=admin)
    assert r.status_code == 200 and r.get_json()["credentials"] == "ok"
    assert client.get("/healthz").get_json()["apps_credentials_broken"] == []
    assert client.post(f"/api/v1/dead-letters/{dead[0].id}/replay", headers=admin).status_code == 202
    assert 40001 not in [c["errcode"] for c in fake_wecom.calls("gettoken")][1:]  # (the new secret's token
    assert [c["errcode"] for c in fake_wecom.calls("department/list")] == [0]  # may be cached from earlier)


def test_same_secret_again_stays_broken_and_bad_patch_changes_nothing(app, client, make_token, runtime, fake_wecom):
    admin = make_token("super_admin")
    set_secret_by_cli(app, "a-wrong-secret")
    sync(client, admin, runtime)
    set_secret_by_cli(app, "a-wrong-secret")  # the same wrong secret is not a fix
    shown = client.get("/api/v1/apps", headers=admin).get_json()["items"][0]
    assert shown["credentials"] == "broken"

    r = client.patch("/api/v1/apps/default", json={"secret": "", "token": "x"}, headers=admin)
    assert r.status_code == 422 and "token" in r.get_json()["error"]["fields"]
    r = client.patch("/api/v1/apps/default", json={"secret": ""}, headers=admin)
    assert r.status_code == 422 and "secret" in r.get_json()["error"]["fields"]
    assert client.patch("/api/v1/apps/nope", json={"secret": "x"}, headers=admin).status_code == 404
    assert client.get("/api/v1/apps", headers=admin).get_json()["items"][0]["credentials"] == "broken"
