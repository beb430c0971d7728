"""`flask --app app directory sync [--app SLUG] [--wait]`: a full address-book sync through the outbox."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cli.work import app_and_wait, start_sync
from jobs.directory import request_directory_sync


@click.group("directory", help="Departments and staff synced from WeCom.")
def directory() -> None:
    pass


@directory.command("sync", help="Fetch department/list and user/list and apply them (inline: now).")
@app_and_wait
@with_appcontext
def directory_sync(slug: str | None, wait: bool) -> None:
    run = start_sync(slug, wait, "directory sync", "directory.sync", request_directory_sync)
    result = run.result
    if result and run.state == "done":
        click.echo(f"departments upserted: {result['departments']}, deleted: {result['departments_deleted']}; "
                   f"staff upserted: {result['staff']}, resigned: {result['resigned']}, "
                   f"out of the app's visible range: {result['out_of_range']}, "
                   f"follow relations to inherit: {result['to_inherit']}")


COMMANDS = [directory]
