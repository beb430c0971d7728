"""`flask --app app tags sync [--app SLUG] [--wait]`: the whole corp tag library fetched from WeCom."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from flask.cli import with_appcontext

from cli.work import follow, pick_app
from jobs.tags import request_tags_sync
from models.auth import record_audit


@click.group("tags", help="Corp customer tags, synced with WeCom.")
def tags() -> None:
    pass


@tags.command("sync", help="Fetch get_corp_tag_list and apply it (inline: now).")
@click.option("--app", "slug", help="The app whose credentials to use (default: the only app, else 'default').")
@click.option("--wait", is_flag=True, help="Wait for a worker to finish it, with a progress bar.")
@with_appcontext
def tags_sync(slug: str | None, wait: bool) -> None:
    runtime = current_app.extensions["scrm"]
    actor = f"cli:{getpass.getuser()}"
    with runtime.WriteSession.begin() as s:
        app = pick_app(s, slug)
        row = request_tags_sync(s, app.corp.corp_id, app.id, actor)
        record_audit(s, actor, "tags.sync", f"corp:{row.corp_id}", job_id=row.args["job_id"])
    follow(runtime, "tag sync", row, wait)


COMMANDS = [tags]
