"""A web process on a database that is down: it starts, answers 503 (API in our error shape, callbacks as
text so WeCom retries) and finishes its start-up by itself once the database answers."""

from __future__ import annotations

import sys

import click
import pytest
from sqlalchemy import select

from migrations import runner
from migrations.runner import SchemaNotCurrent
from models import App
from models.db import make_engine
from web import startup


@pytest.fixture
def down_app(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The app on a SQLite file in a folder that does not exist yet: every connection fails."""
    from app import create_app

    monkeypatch.setattr(startup, "RETRY_EVERY", 0.0)
    folder = tmp_path / "not-yet"
    url = f"sqlite:///{folder}/scrm.db"
    app = create_app({"TESTING": True}, settings=settings.with_overrides(database_url=url))
    yield app, folder, url
    app.extensions["scrm"].engine.dispose()


def test_a_database_down_at_start_up_gets_503s_then_the_service_recovers(down_app, make_token_for) -> None:
    app, folder, url = down_app
    client = app.test_client()
    answer = client.get("/api/v1/customers")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    callback = client.post("/wecom/callback/default?msg_signature=x&timestamp=1&nonce=n", data=b"<xml/>")
    assert (callback.status_code, callback.get_data(as_text=True)) == (503, "database unavailable")
    assert client.get("/healthz").get_json()["db"] == "down"

    folder.mkdir()
    engine = make_engine(url)
    runner.upgrade(engine)  # the database is back (and migrated)
    headers = make_token_for(engine)
    assert client.get("/api/v1/customers", headers=headers).status_code == 200
    with engine.connect() as conn:  # start-up finished: the environment's app was created
        assert conn.scalar(select(App.slug).where(App.slug == "default")) == "default"
    engine.dispose()


def test_an_old_schema_found_once_the_database_is_back_is_still_refused(down_app) -> None:
    app, folder, url = down_app
    folder.mkdir()
    engine = make_engine(url)
    runner.upgrade(engine, "0001_foundation")  # reachable now, but behind the code
    answer = app.test_client().get("/api/v1/customers")
    assert answer.status_code == 503
    with engine.connect() as conn:
        assert runner.current_and_head(engine)[0] != runner.current_and_head(engine)[1]
        assert conn.scalar(select(App.id)) is None  # nothing written into the old schema
    engine.dispose()


def test_a_database_lost_mid_flight_is_a_503_in_the_api_error_shape(client, make_token, runtime) -> None:
    headers = make_token()
    runtime.engine.dispose()
    url = runtime.engine.url
    if url.get_backend_name() != "sqlite":
        pytest.skip("breaks the database by moving the SQLite file away")
    from pathlib import Path

    path = Path(url.database)
    moved = path.with_suffix(".away")
    path.rename(moved)
    path.mkdir()  # a folder where the file was: SQLite cannot open it
    try:
        answer = client.get("/api/v1/customers", headers=headers)
        assert answer.status_code == 503
        assert answer.get_json() == {"error": {"code": "database_unavailable",
                                               "message": "the database cannot be reached; retry later"}}
    finally:
        runtime.engine.dispose()
        path.rmdir()
        moved.rename(path)


@pytest.fixture
def make_token_for():  # type: ignore[no-untyped-def]
    from models.db import make_session_factory
    from web.auth import create_token

    def make(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
        with make_session_factory(engine, writer=True).begin() as s:
            value = create_token(s, "t", "super_admin")
        return {"Authorization": f"Bearer {value}"}

    return make



@pytest.mark.parametrize(("info_name", "argv", "expected"), [
    ("web", ["scrm web", "-w", "2"], SchemaNotCurrent),  # a gunicorn worker forked inside `scrm web`
    ("scrm", ["scrm", "token", "create"], SystemExit),  # a CLI command: the message without a traceback
])
def test_an_old_schema_fails_the_way_its_process_needs(settings, tmp_path, monkeypatch, info_name, argv,
                                                       expected) -> None:
    from app import create_app

    monkeypatch.setattr(sys, "argv", argv)
    with click.Context(click.Command(info_name), info_name=info_name):
        with pytest.raises(expected, match="Run `scrm db upgrade` first"):
            create_app(settings=settings.with_overrides(database_url=f"sqlite:///{tmp_path}/empty.db"))
