"""Every schema change is an Alembic revision: a DB migrated to head matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from migrations import runner
from models import Base
from models.db import make_engine


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    runner.upgrade(engine)
    runner.downgrade(engine, "base")
    assert runner.current_and_head(engine)[0] is None
    runner.upgrade(engine)
    assert runner.current_and_head(engine)[0] == runner.current_and_head(engine)[1]


def test_every_revision_id_fits_mariadbs_alembic_version() -> None:
    """alembic_version.version_num is VARCHAR(32): a longer id upgrades on SQLite and fails on MariaDB half-way
    (it did once, after a merge re-numbered a revision)."""
    from pathlib import Path

    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(Path(runner.__file__).parent))
    too_long = [rev.revision for rev in script.walk_revisions() if len(rev.revision) > 32]
    assert too_long == []
    assert len(script.get_heads()) == 1
