"""`flask --app app directory sync [--app SLUG] [--wait]`: a full address-book sync through the outbox."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from flask.cli import with_appcontext

from cli.work import follow, pick_app
from jobs.directory import request_directory_sync
from models.auth import record_audit


@click.group("directory", help="Departments and staff synced from WeCom.")
def directory() -> None:
    pass


@directory.command("sync", help="Fetch department/list and user/list and apply them (inline: now).")
@click.option("--app", "slug", help="The app whose credentials to use (default: the only app, else 'default').")
@click.option("--wait", is_flag=True, help="Wait for a worker to finish it, with a progress bar.")
@with_appcontext
def directory_sync(slug: str | None, wait: bool) -> None:
    runtime = current_app.extensions["scrm"]
    actor = f"cli:{getpass.getuser()}"
    with runtime.WriteSession.begin() as s:
        app = pick_app(s, slug)
        row = request_directory_sync(s, app.corp.corp_id, app.id, actor)
        record_audit(s, actor, "directory.sync", f"corp:{row.corp_id}", outbox_id=row.id)
    run = follow(runtime, "directory sync", row, wait)
    result = run.result
    if result and run.state == "done":
        click.echo(f"departments upserted: {result['departments']}, deleted: {result['departments_deleted']}; "
                   f"staff upserted: {result['staff']}, resigned: {result['resigned']}, "
                   f"follow relations to inherit: {result['to_inherit']}")


COMMANDS = [directory]
