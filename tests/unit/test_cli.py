"""The operator commands (`flask --app app ...`) through Flask's CLI runner, against the same DB and fake WeCom
as the API: what they print, their exit status, and the rows they leave."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import create_engine, func, inspect, select

from models import ApiToken, App, Customer, DeadLetter, Inbox, Outbox
from wecom.fake.sender import sample_names

ADD = "change_external_contact/add_external_contact"
APP_ARGS = {"--slug": "sales", "--corp-id": "wwsalescorp00001", "--kind": "contact", "--token": "SalesToken9",
            "--aes-key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", "--secret": "sales-secret-0001",
            "--agent-id": "1000005"}
CREDENTIALS = ("--token", "--aes-key", "--secret")


@pytest.fixture
def run(app):  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def count(runtime, model) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


def app_args(**changes: str) -> list[str]:
    merged = {**APP_ARGS, **{f"--{k.replace('_', '-')}": v for k, v in changes.items()}}
    return [part for pair in merged.items() for part in pair]


@pytest.fixture
def dead_letter_id(sender, runtime) -> int:  # type: ignore[no-untyped-def]
    """A dead letter: the add event names a customer the fake WeCom does not know (84061)."""
    assert sender.post(ADD, ExternalUserID="wmLate", UserID="zhangsan").status_code == 200
    with runtime.Session() as s:
        return s.scalar(select(DeadLetter.id))


# -- token ---------------------------------------------------------------------------------------------
def test_token_create_prints_a_working_token_on_its_last_line(run, runtime, client) -> None:
    result = run("token", "create", "--role", "super_admin", "--name", "ops")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert client.get("/api/v1/apps", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with runtime.Session() as s:
        row = s.scalar(select(ApiToken))
        assert (row.name, row.role, row.userid) == ("ops", "super_admin", None)
        assert token not in row.token_hash  # only the hash is stored


def test_a_member_token_is_tied_to_its_staff_member(run, client, sender) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi")
    result = run("token", "create", "--role", "member", "--name", "zs", "--userid", "zhangsan")
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}
    r = client.get("/api/v1/customers", headers=headers)
    assert [c["external_userid"] for c in r.get_json()["items"]] == ["wmCustomer0001"]
    assert client.get("/api/v1/events", headers=headers).status_code == 403


@pytest.mark.parametrize("args,message", [
    (["--role", "member", "--name", "zs"], "userid"),
    (["--role", "root", "--name", "x"], "--role"),
    (["--role", "admin"], "--name"),
])
def test_token_create_refuses_bad_options_and_stores_nothing(run, runtime, args, message) -> None:
    result = run("token", "create", *args)
    assert result.exit_code == 2  # click's usage error
    assert message in result.output and "scrm_" not in result.output
    assert count(runtime, ApiToken) == 0


# -- apps ----------------------------------------------------------------------------------------------
def test_apps_add_stores_the_app_and_prints_it_without_credentials(run, runtime) -> None:
    result = run("apps", "add", *app_args())
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body.pop("created_at") and body == {"id": "sales", "corp_id": "wwsalescorp00001", "kind": "contact",
                                                "agent_id": 1000005, "callback_path": "/wecom/callback/sales"}
    assert not [APP_ARGS[k] for k in CREDENTIALS if APP_ARGS[k] in result.output]
    with runtime.Session() as s:
        row = s.scalar(select(App).where(App.slug == "sales"))
        assert (row.token, row.aes_key, row.secret) == tuple(APP_ARGS[k] for k in CREDENTIALS)


@pytest.mark.parametrize("changes,field", [
    ({"aes_key": "tooShort"}, "aes_key"),
    ({"slug": "Sales Team"}, "slug"),
    ({"token": "tok-en!"}, "token"),
])
def test_apps_add_refuses_an_invalid_app_and_stores_nothing(run, runtime, changes, field) -> None:
    before = count(runtime, App)
    result = run("apps", "add", *app_args(**changes))
    assert result.exit_code != 0
    assert f"{field}:" in result.output
    assert count(runtime, App) == before


def test_apps_list_shows_every_app_but_no_credential(run, runtime) -> None:
    assert run("apps", "add", *app_args()).exit_code == 0
    result = run("apps", "list")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.output.splitlines()] == ["default", "sales"]
    env = runtime.settings.env_app
    secrets = [APP_ARGS[k] for k in CREDENTIALS] + [env.token, env.aes_key, env.secret]
    assert not [c for c in secrets if c in result.output]


# -- events, dead letters, sweep -----------------------------------------------------------------------
def test_events_replay_processes_a_stored_callback_again(run, runtime, sender, fake_wecom) -> None:
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    with runtime.Session() as s:
        inbox_id = s.scalar(select(Inbox.id))
    result = run("events", "replay", str(inbox_id))
    assert result.exit_code == 0, result.output
    assert f"event {inbox_id}" in result.output
    with runtime.Session() as s:
        row = s.get(Inbox, inbox_id)
        assert (row.status, row.attempts) == ("processed", 2)
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
    assert len(fake_wecom.calls("externalcontact/get")) == 1


@pytest.mark.parametrize("command,message", [
    (["events", "replay", "999999"], "no event 999999"),
    (["dead-letters", "replay", "999999"], "no dead letter 999999"),
])
def test_replaying_something_unknown_fails_and_changes_nothing(run, runtime, dead_letter_id, command,
                                                                message) -> None:
    with runtime.Session() as s:
        before = s.execute(select(DeadLetter.id, DeadLetter.replayed_at)).all()
    result = run(*command)
    assert result.exit_code == 1 and message in result.output
    with runtime.Session() as s:
        assert s.execute(select(DeadLetter.id, DeadLetter.replayed_at)).all() == before


def test_dead_letters_list_and_replay(run, runtime, fake_wecom, dead_letter_id) -> None:
    listed = run("dead-letters", "list")
    assert listed.exit_code == 0, listed.output
    [line] = listed.output.splitlines()
    dead = json.loads(line)
    assert (dead["id"], dead["job"], dead["replayed_at"]) == (dead_letter_id, "deliver_outbox", None)
    assert "84061" in dead["error"]

    fake_wecom.seed({"external_contacts": [{"corpid": runtime.settings.env_app.corp_id, "external_contact": {
        "external_userid": "wmLate", "name": "迟到的客户", "type": 1}, "follow_user": []}]})
    result = run("dead-letters", "replay", str(dead_letter_id))
    assert result.exit_code == 0, result.output
    assert f"dead letter {dead_letter_id}" in result.output
    with runtime.Session() as s:
        assert s.scalar(select(Customer.name).where(Customer.external_userid == "wmLate")) == "迟到的客户"
        assert s.scalar(select(Outbox.status)) == "done"
    assert run("dead-letters", "list").output == ""  # replayed ones only with --all
    [again] = run("dead-letters", "list", "--all").output.splitlines()
    assert json.loads(again)["id"] == dead_letter_id and json.loads(again)["replayed_at"]


def redis_down(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise ConnectionError("redis is down")


def test_sweep_processes_a_callback_whose_enqueue_was_lost(run, runtime, sender, monkeypatch) -> None:
    monkeypatch.setattr("web.callback.enqueue", redis_down)
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status)) == "received"
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
    monkeypatch.undo()

    result = run("sweep", "--older-than", "0")
    assert result.exit_code == 0, result.output
    assert "enqueued 1 event(s) and 0 outbound effect(s)" in result.output
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status)) == "processed"
        assert s.scalar(select(Customer.name)) == "王小明😀"
    assert "enqueued 0 event(s) and 0 outbound effect(s)" in run("sweep", "--older-than", "0").output


def test_sweep_leaves_rows_younger_than_older_than(run, runtime, sender, monkeypatch) -> None:
    monkeypatch.setattr("web.callback.enqueue", redis_down)
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan")
    result = run("sweep", "--older-than", "3600")
    assert "enqueued 0 event(s) and 0 outbound effect(s)" in result.output
    with runtime.Session() as s:
        assert s.scalar(select(Inbox.status)) == "received"


# -- db, samples, startup ------------------------------------------------------------------------------
def test_db_current_shows_the_database_at_head(run) -> None:
    result = run("db", "current")
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"current: (\S+)\s+head: (\S+)\s*", result.output)
    assert match and match[1] == match[2] != "none"


def test_send_sample_lists_the_sample_names(run) -> None:
    result = run("send-sample", "--list")
    assert result.exit_code == 0, result.output
    names = result.output.splitlines()
    assert names == sample_names() and "change_external_contact__add_external_contact" in names


def test_the_app_refuses_an_unmigrated_database(settings, tmp_path) -> None:
    """Outside a CLI command (gunicorn) an exception: gunicorn takes it for a boot failure and stops."""
    from app import create_app
    from migrations.runner import SchemaNotCurrent

    url = f"sqlite:///{tmp_path}/empty.db"
    with pytest.raises(SchemaNotCurrent, match="Run `scrm db upgrade` first"):
        create_app(settings=settings.with_overrides(database_url=url))
    engine = create_engine(url)
    assert inspect(engine).get_table_names() == []  # nothing was created in it
    engine.dispose()
