"""`flask --app app tags sync [--app SLUG] [--wait]`: the whole corp tag library fetched from WeCom."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cli.work import app_and_wait, start_sync
from jobs.tags import request_tags_sync


@click.group("tags", help="Corp customer tags, synced with WeCom.")
def tags() -> None:
    pass


@tags.command("sync", help="Fetch get_corp_tag_list and apply it (inline: now).")
@app_and_wait
@with_appcontext
def tags_sync(slug: str | None, wait: bool) -> None:
    start_sync(slug, wait, "tag sync", "tags.sync", request_tags_sync)


COMMANDS = [tags]
