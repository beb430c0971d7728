"""What CLI commands that start long work share: the app whose credentials they use, and waiting for the
job run with a progress bar (click's), its outcome printed and a failure turned into exit status 1."""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.queue import enqueue_outbox
from models import App, JobRun, Outbox, OutboxStatus
from models.auth import record_audit

POLL_SECONDS = 0.5


def app_and_wait(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a command that starts a sync: `--app SLUG` and `--wait`."""
    command = click.option("--wait", is_flag=True, help="Wait for a worker to finish it, with a progress bar.")(command)
    return click.option("--app", "slug",
                        help="The app whose credentials to use (default: the only app, else 'default').")(command)


def pick_app(s: Session, slug: str | None) -> App:
    """`slug`'s app, else the only app, else the one called 'default'."""
    if slug:
        app = s.scalar(select(App).where(App.slug == slug))
    else:
        apps = s.scalars(select(App).order_by(App.id).limit(2)).all()
        app = apps[0] if len(apps) == 1 else s.scalar(select(App).where(App.slug == "default"))
    if app is None:
        raise click.UsageError(f"no app {slug!r}" if slug else "several apps: say which with --app")
    return app


def start_sync(slug: str | None, wait: bool, what: str, action: str,
               request: Callable[[Session, str, int, str], Outbox]) -> JobRun:
    """Ask for a sync with `slug`'s app (`request(session, corp_id, app_pk, actor)` writes its outbox row),
    audit it as `action`, then `follow` it."""
    runtime = current_app.extensions["scrm"]
    actor = f"cli:{getpass.getuser()}"
    with runtime.WriteSession.begin() as s:
        app = pick_app(s, slug)
        row = request(s, app.corp.corp_id, app.id, actor)
        record_audit(s, actor, action, f"corp:{row.corp_id}", corp_id=row.corp_id, outbox_id=row.id,
                     job_id=row.args["job_id"])
    return follow(runtime, what, row, wait)


def follow(runtime: Any, what: str, row: Outbox, wait: bool) -> JobRun:
    """After the commit of the outbox `row` that does job run `row.args["job_id"]`: enqueue it (if still
    pending), then wait for it with a progress bar (`wait`) or report where it stands."""
    job_id = row.args["job_id"]
    if row.status == OutboxStatus.pending.value:
        enqueue_outbox([(row.id, row.queue)])
    click.echo(f"{what} of {row.corp_id}: outbox {row.id}, job {job_id}")
    return wait_or_report(runtime, job_id, wait)


def wait_or_report(runtime: Any, job_id: int, wait: bool) -> JobRun:
    """Wait for the run with a progress bar (`wait`), or report where it stands now."""
    if wait:
        return wait_for_run(runtime, job_id)
    run = _read(runtime, job_id)
    report(run)
    return run


def _read(runtime: Any, job_id: int) -> JobRun:
    with runtime.Session() as s:
        run = s.get(JobRun, job_id)
    if run is None:
        raise click.ClickException(f"no job {job_id}")
    return run


def wait_for_run(runtime: Any, job_id: int, timeout: float = 3600.0) -> JobRun:
    """Poll job run `job_id` until it is done or failed, drawing its done/total; exit 1 if it failed."""
    run = _read(runtime, job_id)
    deadline = time.monotonic() + timeout
    with click.progressbar(length=max(run.total or 0, 1), label=f"{run.kind} (job {job_id})",
                           show_pos=True) as bar:
        while True:
            if run.total:
                bar.length = run.total
            bar.update(run.done - bar.pos)
            if run.finished:
                break
            if time.monotonic() > deadline:
                raise click.ClickException(f"job {job_id} is still {run.state} after {timeout:.0f} s")
            time.sleep(POLL_SECONDS)
            run = _read(runtime, job_id)
    report(run)
    if run.state == "failed":
        raise click.ClickException(f"job {job_id} failed")
    return run


def report(run: JobRun) -> None:
    """The run's state, counters, result and errors, as the API shows them."""
    click.echo(f"job {run.id} {run.kind}: {run.state}, {run.done}/{run.total if run.total is not None else '?'}")
    if run.result:
        click.echo(json.dumps(run.public()["result"], ensure_ascii=False))
    for error in run.errors or []:
        click.echo(f"error: {error}")
    if run.error_count > len(run.errors or []):
        click.echo(f"… and {run.error_count - len(run.errors)} more error(s)")
