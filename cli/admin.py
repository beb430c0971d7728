"""Operator commands: API tokens, apps, stored events, dead letters and the sweeper."""

from __future__ import annotations

import getpass
import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from jobs.events import replay_event
from jobs.maintenance import sweep
from jobs.queue import replay_dead_letter
from models import ApiToken, App, DeadLetter
from models.auth import record_audit
from models.corp import save_app
from rules.apps import app_errors
from web.auth import DEFAULT_EXPIRES_IN, expiry, issue_token, revoke_token


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["scrm"]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _audit(action: str, target: str) -> None:
    with _runtime().WriteSession.begin() as s:
        record_audit(s, _actor(), action, target)


@click.group("token", help="Admin API tokens.")
def token() -> None:
    pass


@token.command("create", help="Create a token; it is printed once, on the last line.")
@click.option("--role", type=click.Choice(["super_admin", "admin", "member"]), required=True)
@click.option("--name", required=True)
@click.option("--userid", help="For a member token: the staff member whose customers it may see.")
@click.option("--corp-id", help="Limit the token to one corp (needed with --userid when several corps exist).")
@click.option("--expires-in", help=f"90d, 12h, 30m, or never (default {DEFAULT_EXPIRES_IN}).")
@click.option("--expires-at", help="An ISO 8601 time, e.g. 2027-03-01T00:00:00Z (UTC unless it says).")
@with_appcontext
def token_create(role: str, name: str, userid: str | None, corp_id: str | None, expires_in: str | None,
                 expires_at: str | None) -> None:
    try:
        until = expiry(expires_in, expires_at)
        with _runtime().WriteSession.begin() as s:
            row, value = issue_token(s, name, role, userid=userid, corp_id=corp_id, expires_at=until)
            record_audit(s, _actor(), "token.create", f"token:{row.id}", name=name, role=role, userid=userid,
                         corp_id=row.corp_id)
            shown = row.public()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"created {role} token {name!r} (id {shown['id']}, corp {shown['corp_id'] or 'every corp'}, "
               f"expires {shown['expires_at'] or 'never'}); keep it, it is not shown again:")
    click.echo(value)


@token.command("list", help="Tokens (never the token itself), one JSON object a line.")
@click.option("--all", "show_all", is_flag=True, help="Include revoked and expired ones.")
@with_appcontext
def token_list(show_all: bool) -> None:
    with _runtime().Session() as s:
        for row in s.scalars(select(ApiToken).order_by(ApiToken.id)):
            if show_all or row.status() == "active":
                click.echo(json.dumps(row.public(), ensure_ascii=False))


@token.command("revoke", help="Revoke token TOKEN_ID (see token list): it gets 401 from now on.")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    with _runtime().WriteSession.begin() as s:
        row = revoke_token(s, token_id)
        if row is None:
            raise click.ClickException(f"no token {token_id}")
        record_audit(s, _actor(), "token.revoke", f"token:{token_id}", name=row.name)
    click.echo(f"token {token_id} revoked")


@click.group("apps", help="WeCom apps (callback URL /wecom/callback/<slug>).")
def apps() -> None:
    pass


@apps.command("add", help="Add or update an app.")
@click.option("--slug", required=True)
@click.option("--corp-id", required=True)
@click.option("--kind", type=click.Choice(["agent", "contact", "kf"]), default="agent", show_default=True)
@click.option("--token", "token_", required=True, help="The callback Token from WeCom's console.")
@click.option("--aes-key", required=True, help="The 43-character EncodingAESKey.")
@click.option("--secret", required=True)
@click.option("--agent-id", type=int)
@with_appcontext
def apps_add(slug: str, corp_id: str, kind: str, token_: str, aes_key: str, secret: str,
             agent_id: int | None) -> None:
    fields = {"slug": slug, "corp_id": corp_id, "kind": kind, "token": token_, "aes_key": aes_key,
              "secret": secret, "agent_id": agent_id}
    problems = app_errors(fields)
    if problems:
        raise click.UsageError("; ".join(f"{k}: {v}" for k, v in problems.items()))
    with _runtime().WriteSession.begin() as s:
        app = save_app(s, fields)
        record_audit(s, _actor(), "app.save", f"app:{slug}", corp_id=corp_id, kind=kind)
        click.echo(json.dumps(app.public(), ensure_ascii=False))


@apps.command("list")
@with_appcontext
def apps_list() -> None:
    with _runtime().Session() as s:
        for app in s.scalars(select(App).order_by(App.id)):
            click.echo(json.dumps(app.public(), ensure_ascii=False))


@click.group("events", help="Stored callbacks.")
def events() -> None:
    pass


@events.command("replay", help="Process stored callback INBOX_ID again.")
@click.argument("inbox_id", type=int)
@with_appcontext
def events_replay(inbox_id: int) -> None:
    if replay_event(inbox_id) is None:
        raise click.ClickException(f"no event {inbox_id}")
    _audit("event.replay", f"inbox:{inbox_id}")
    click.echo(f"event {inbox_id} enqueued")


@click.command("sweep", help="Enqueue callbacks and outbound effects whose enqueue was lost.")
@click.option("--older-than", type=int, default=None, help="Seconds (default SCRM_SWEEP_AFTER, 60).")
@with_appcontext
def sweep_command(older_than: int | None) -> None:
    counts = sweep(older_than)
    click.echo(f"enqueued {counts['inbox']} event(s) and {counts['outbox']} outbound effect(s)")


@click.group("dead-letters", help="Jobs that exhausted their retries.")
def dead_letters() -> None:
    pass


@dead_letters.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include replayed ones.")
@with_appcontext
def dead_letters_list(show_all: bool) -> None:
    with _runtime().Session() as s:
        query = select(DeadLetter).order_by(DeadLetter.id)
        if not show_all:
            query = query.where(DeadLetter.replayed_at.is_(None))
        for row in s.scalars(query):
            click.echo(json.dumps(row.public(), ensure_ascii=False))


@dead_letters.command("replay")
@click.argument("dead_letter_id", type=int)
@with_appcontext
def dead_letters_replay(dead_letter_id: int) -> None:
    if replay_dead_letter(dead_letter_id) is None:
        raise click.ClickException(f"no dead letter {dead_letter_id}")
    _audit("dead_letter.replay", f"dead_letter:{dead_letter_id}")
    click.echo(f"dead letter {dead_letter_id} enqueued again")


COMMANDS = [token, apps, events, sweep_command, dead_letters]
