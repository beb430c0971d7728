"""`flask --app app directory sync [--app SLUG]`: a full address-book sync through the outbox."""

from __future__ import annotations

import getpass
import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from jobs.directory import request_directory_sync
from jobs.queue import enqueue_outbox
from models import App, Outbox
from models.auth import record_audit


@click.group("directory", help="Departments and staff synced from WeCom.")
def directory() -> None:
    pass


@directory.command("sync", help="Fetch department/list and user/list and apply them (inline: now).")
@click.option("--app", "slug", help="The app whose credentials to use (default: the only app, else 'default').")
@with_appcontext
def directory_sync(slug: str | None) -> None:
    runtime = current_app.extensions["scrm"]
    actor = f"cli:{getpass.getuser()}"
    with runtime.WriteSession.begin() as s:
        if slug:
            app = s.scalar(select(App).where(App.slug == slug))
        else:
            apps = s.scalars(select(App).order_by(App.id).limit(2)).all()
            app = apps[0] if len(apps) == 1 else s.scalar(select(App).where(App.slug == "default"))
        if app is None:
            raise click.UsageError(f"no app {slug!r}" if slug else "several apps: say which with --app")
        corp_id = app.corp.corp_id
        row = request_directory_sync(s, corp_id, app.id, actor)
        record_audit(s, actor, "directory.sync", f"corp:{corp_id}", outbox_id=row.id)
        outbox_id, pending = row.id, [(row.id, row.queue)] if row.status == "pending" else []
    enqueue_outbox(pending)
    with runtime.Session() as s:
        row = s.get(Outbox, outbox_id)
        status, result, error = row.status, row.result, row.error
    click.echo(f"directory sync of {corp_id}: outbox {outbox_id} {status}")
    if result:
        click.echo(json.dumps(result, ensure_ascii=False))
        click.echo(f"departments upserted: {result['departments']}, deleted: {result['departments_deleted']}; "
                   f"staff upserted: {result['staff']}, resigned: {result['resigned']}, "
                   f"out of the app's visible range: {result['out_of_range']}, "
                   f"follow relations to inherit: {result['to_inherit']}")
    elif error:
        click.echo(f"error: {error}")


COMMANDS = [directory]
