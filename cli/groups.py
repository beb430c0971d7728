"""`scrm groups sync [--app SLUG] [--wait]`: a full customer-group sync through the outbox, with progress."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cli.work import app_and_wait, start_sync
from jobs.group_sync import request_groups_sync


@click.group("groups", help="Customer groups (客户群) synced from WeCom.")
def groups() -> None:
    pass


@groups.command("sync", help="List every group (groupchat/list) and reconcile each (groupchat/get); inline: now.")
@app_and_wait
@with_appcontext
def groups_sync(slug: str | None, wait: bool) -> None:
    run = start_sync(slug, wait, "group sync", "groups.sync", request_groups_sync)
    result = run.result
    if result and run.state == "done":
        click.echo(f"groups listed: {result['groups_listed']}, changed: {result['groups_changed']} "
                   f"(rows written: {result['rows_written']}); joined: {result['joined']}, quit: {result['quit']}, "
                   f"dismissed: {result['dismissed']}, customer stubs: {result['customer_stubs']}")


COMMANDS = [groups]
