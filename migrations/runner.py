"""Apply and inspect migrations programmatically, and tell whether a DB is at head.

The app refuses to start on a DB that is behind (a missing column would otherwise surface as a 500 on
some later request), and says which command fixes it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).resolve().parent
UPGRADE_COMMAND = "scrm db upgrade"
"""Installed: the `scrm` console script; in a checkout `flask --app app db upgrade` is the same command."""


class SchemaNotCurrent(RuntimeError):
    pass


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def _run(engine: Engine, fn, *args) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, *args)


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def revision(engine: Engine, message: str) -> None:
    _run(engine, lambda cfg, msg: command.revision(cfg, message=msg, autogenerate=True), message)


def current_and_head(engine: Engine) -> tuple[str | None, str | None]:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def require_current(engine: Engine) -> None:
    current, head = current_and_head(engine)
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}, code expects {head}"
        raise SchemaNotCurrent(f"The database {state}. Run `{UPGRADE_COMMAND}` first.")
