"""Every schema change is an Alembic revision: a DB migrated to head matches the models exactly."""

from __future__ import annotations

import json

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


def test_dead_letters_get_their_corp_where_the_args_name_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0038_i19ci_dead_letter_corp backfills corp_id from the inbox row, the outbox row or process_batch's own
    corp id; a job whose args name no corp's row keeps NULL."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from models import Inbox, Outbox
    from models.corp import save_app

    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    runner.upgrade(engine, "0037_i16_task_kind_width")
    with Session(engine) as s, s.begin():
        app = save_app(s, {"slug": "a", "corp_id": "wwa", "token": "t", "aes_key": "k" * 43, "secret": "s"})
        inbox = Inbox(app_pk=app.id, corp_id="wwa", dedup_key="d", routing_key="r", raw_xml="<xml/>",
                      status="failed", attempts=1)
        outbox = Outbox(key="k", corp_id="wwb", job="mark_tag", args={})
        s.add_all([inbox, outbox])
        s.flush()
        letters = [("process_event", [inbox.id]), ("deliver_outbox", [outbox.id]), ("process_batch", ["wwc", "kf"]),
                   ("sweep_job", []), ("deliver_outbox", [999])]
        for job, args in letters:
            s.execute(text("INSERT INTO dead_letters (job, args, queue, error, attempts, failed_at) "
                           "VALUES (:job, :args, 'events', 'e', 1, CURRENT_TIMESTAMP)"),
                      {"job": job, "args": json.dumps(args)})
    runner.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT corp_id FROM dead_letters ORDER BY id")).scalars().all() == [
            "wwa", "wwb", "wwc", None, None]
    engine.dispose()
