"""`flask --app app db upgrade|downgrade|current`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from migrations import runner


@click.group("db", help="Database migrations (Alembic).")
def db() -> None:
    pass


@db.command("upgrade", help="Apply migrations up to REVISION (default: head).")
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision: str) -> None:
    runner.upgrade(current_app.extensions["scrm"].engine, revision)
    click.echo(f"database at {runner.current_and_head(current_app.extensions['scrm'].engine)[0]}")


@db.command("downgrade", help="Revert migrations down to REVISION (e.g. base).")
@click.argument("revision")
@with_appcontext
def downgrade(revision: str) -> None:
    runner.downgrade(current_app.extensions["scrm"].engine, revision)


@db.command("current", help="Show the database's revision and the code's head.")
@with_appcontext
def current() -> None:
    now, head = runner.current_and_head(current_app.extensions["scrm"].engine)
    click.echo(f"current: {now or 'none'}  head: {head}")


COMMANDS = [db]
