"""`flask --app app customers purge`: empty the recycle bin of customers past their corp's retention.
`flask --app app customers export [filters] [--wait] [--out FILE]`: the customer CSV, made by a job."""

from __future__ import annotations

import getpass
import shutil
from dataclasses import asdict

import click
from flask import current_app
from flask.cli import with_appcontext

from cli.work import wait_or_report
from jobs.export import replayed, request_export
from jobs.queue import enqueue
from jobs.recycle import purge_recycle_bin
from models import Download, Role
from models.auth import record_audit
from storage import storage
from web.api_customers import requested_export
from web.auth import Principal
from web.errors import ApiError


@click.group("customers", help="Customers and their recycle bin.")
def customers() -> None:
    pass


@customers.command("purge", help="Delete for good the customers binned longer than recycle_retention_days.")
@with_appcontext
def customers_purge() -> None:
    count = purge_recycle_bin(actor=f"cli:{getpass.getuser()}")
    click.echo(f"purged {count} customer(s) from the recycle bin")


@customers.command("export", help="Export customers to CSV in a job (the API list's filters).")
@click.option("--corp-id", help="The corp (default: the only one).")
@click.option("--staff", help="userid of a follower")
@click.option("--tag", multiple=True, help="tag id; repeat it: customers with every tag")
@click.option("--channel", help="channel name, or channel code id")
@click.option("--added-from", help="a follow relation added on or after this corp-local day (YYYY-MM-DD)")
@click.option("--added-to", help="… on or before this corp-local day")
@click.option("--status", help="a follow relation's status")
@click.option("--owner", help="userid of the owner (跟进人)")
@click.option("--keyword", help="matches name or remark")
@click.option("--wait", is_flag=True, help="Wait for a worker to finish it, with a progress bar.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Copy the finished file here.")
@with_appcontext
def customers_export(wait: bool, out: str | None, **filters: str | tuple[str, ...] | None) -> None:
    runtime = current_app.extensions["scrm"]
    actor = f"cli:{getpass.getuser()}"
    query = {name: list(value) if isinstance(value, tuple) else [value] for name, value in filters.items() if value}
    principal = Principal(actor, Role.super_admin.value, None, None)
    try:
        with replayed(runtime, {"query": query, "principal": asdict(principal)}):
            corp_id, _, _ = requested_export()
    except ApiError as exc:
        raise click.UsageError(exc.message) from None
    with runtime.WriteSession.begin() as s:
        job_id = request_export(s, corp_id, query, principal, actor)
        record_audit(s, actor, "customer.export", f"corp:{corp_id}", corp_id=corp_id, filters=query, job_id=job_id)
    enqueue("export_customers", job_id)
    click.echo(f"customer export of {corp_id}: job {job_id}")
    run = wait_or_report(runtime, job_id, wait or bool(out))
    if out and run.result is not None and run.result.get("download_id"):
        with runtime.Session() as s:
            key = s.get_one(Download, run.result["download_id"]).file_key
        with storage(runtime).open(key) as stored, open(out, "wb") as target:
            shutil.copyfileobj(stored, target)
        click.echo(f"written to {out}")


COMMANDS = [customers]
