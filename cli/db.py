"""`scrm db …` (`flask --app app db …`): upgrade, downgrade, current, migrate, revision, history, stamp, as
Flask-Migrate names them, on Alembic's command API over our migrations/ and runner (which the start-up
check shares)."""

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


@db.command("migrate", help="Autogenerate a revision from the models' differences with the database.")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@with_appcontext
def migrate(message: str) -> None:
    runner.revision(current_app.extensions["scrm"].engine, message, autogenerate=True)


@db.command("revision", help="A new revision file; empty unless --autogenerate.")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option("--autogenerate", is_flag=True, help="Fill it from the models' differences with the database.")
@with_appcontext
def revision(message: str, autogenerate: bool) -> None:
    runner.revision(current_app.extensions["scrm"].engine, message, autogenerate=autogenerate)


@db.command("history", help="List the revisions, newest first.")
@click.option("-v", "--verbose", is_flag=True)
def history(verbose: bool) -> None:
    runner.history(verbose)


@db.command("stamp", help="Set the database's revision to REVISION without migrating (e.g. head).")
@click.argument("revision")
@with_appcontext
def stamp(revision: str) -> None:
    runner.stamp(current_app.extensions["scrm"].engine, revision)
    click.echo(f"database stamped {runner.current_and_head(current_app.extensions['scrm'].engine)[0]}")


COMMANDS = [db]
