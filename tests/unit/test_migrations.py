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


def test_0038_fills_each_tag_rows_customer_from_its_relation(clean_db: str) -> None:
    """follow_tags.customer_id (what segments intersect on) is filled for rows that existed before it: two
    customers, the second followed by two members, relation ids unlike customer ids."""
    from sqlalchemy import text

    engine = make_engine(clean_db)
    runner.downgrade(engine, "0037_i16_task_kind_width")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tag_groups (id, corp_id, group_id, name, `order`, exclusive, created_at, "
                              "updated_at) VALUES (1, 'c', 'g', 'g', 0, 0, '2026-01-01', '2026-01-01')"))
            conn.execute(text("INSERT INTO tags (id, corp_id, tag_id, group_pk, name, `order`, colour, description, "
                              "created_at, updated_at) VALUES (1, 'c', 't', 1, 't', 0, '', '', '2026-01-01', "
                              "'2026-01-01')"))
            for cid in (5, 9):
                conn.execute(text("INSERT INTO customers (id, corp_id, external_userid, name, avatar, corp_name, "
                                  "position, mobile, channel, pool_reason, created_at, updated_at) VALUES "
                                  f"({cid}, 'c', 'wm{cid}', 'n', '', '', '', '', '', '', '2026-01-01', '2026-01-01')"))
            for fid, cid, userid in ((20, 5, "a"), (21, 9, "a"), (22, 9, "b")):
                conn.execute(text("INSERT INTO follow_relations (id, customer_id, corp_id, userid, remark, description, "
                                  "remark_mobiles, state, added_at, status, status_changed_at, inherit_status, "
                                  "transfer_fail_reason, created_at, updated_at) VALUES "
                                  f"({fid}, {cid}, 'c', '{userid}', '', '', '[]', '', '2026-01-01', 'active', "
                                  "'2026-01-01', '', '', '2026-01-01', '2026-01-01')"))
                conn.execute(text("INSERT INTO follow_tags (follow_id, tag_pk, tagged_by, tagged_at) VALUES "
                                  f"({fid}, 1, 'wecom', '2026-01-01')"))
    finally:
        runner.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT follow_id, customer_id FROM follow_tags ORDER BY follow_id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(20, 5), (21, 9), (22, 9)]


def test_dead_letters_get_their_corp_where_the_args_name_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0039_i19ci_dead_letter_corp backfills corp_id from the inbox row, the outbox row or process_batch's own
    corp id; a job whose args name no corp's row keeps NULL."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from models import Inbox, Outbox
    from models.corp import save_app

    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    runner.upgrade(engine, "0038_i19seg_follow_tags_customer")
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
