"""The migration commands Flask-Migrate users expect (`scrm db migrate|revision|history|stamp`), next to
upgrade/downgrade/current, on our migrations/ folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from migrations import runner

HEAD = ScriptDirectory.from_config(runner.alembic_config()).get_current_head()


@pytest.fixture
def run(app):  # type: ignore[no-untyped-def]
    runner_ = app.test_cli_runner()
    return lambda *args: runner_.invoke(args=list(args))


@pytest.fixture
def scratch_migrations(tmp_path, monkeypatch) -> Path:
    """A copy of migrations/ for commands that write revision files, so the checkout stays as it is."""
    copy = tmp_path / "migrations"
    shutil.copytree(runner.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "HERE", copy)
    return copy / "versions"


def test_history_lists_the_revisions_newest_first(run) -> None:
    result = run("db", "history")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert HEAD in lines[0] and "(head)" in lines[0]
    assert "<base> -> 0001_foundation" in lines[-1]


def test_stamp_sets_the_revision_without_migrating(run) -> None:
    result = run("db", "stamp", "0006_moderation")
    assert result.exit_code == 0, result.output
    assert run("db", "current").output.startswith("current: 0006_moderation ")
    assert run("db", "stamp", "head").exit_code == 0
    assert run("db", "current").output.startswith(f"current: {HEAD} ")


def test_stamp_refuses_an_unknown_revision_and_keeps_the_current_one(run) -> None:
    result = run("db", "stamp", "9999_nothing")
    assert result.exit_code != 0
    assert run("db", "current").output.startswith(f"current: {HEAD} ")


def test_migrate_autogenerates_an_empty_revision_when_models_and_schema_agree(run, scratch_migrations) -> None:
    before = set(scratch_migrations.glob("*.py"))
    result = run("db", "migrate", "-m", "nothing changed")
    assert result.exit_code == 0, result.output
    (new,) = set(scratch_migrations.glob("*.py")) - before
    text = new.read_text()
    assert f"down_revision = '{HEAD}'" in text or f'down_revision = "{HEAD}"' in text
    assert "op." not in text  # the models match the migrated schema: nothing to do


def test_revision_writes_an_empty_revision_after_head(run, scratch_migrations) -> None:
    result = run("db", "revision", "-m", "hand written")
    assert result.exit_code == 0, result.output
    (new,) = [p for p in scratch_migrations.glob("*hand_written*.py")]
    assert HEAD in new.read_text()


def test_migrate_needs_a_message(run, scratch_migrations) -> None:
    before = set(scratch_migrations.glob("*.py"))
    result = run("db", "migrate")
    assert result.exit_code == 2 and "--message" in result.output
    assert set(scratch_migrations.glob("*.py")) == before
