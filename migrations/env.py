"""Alembic environment: the connection comes from `migrations.runner` (or DATABASE_URL for bare alembic)."""

from alembic import context

import models
from config import load_settings
from models.db import make_engine

target_metadata = models.Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    with make_engine(load_settings().database_url).connect() as conn:
        _migrate(conn)


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()


run()
