"""`flask --app app customers purge`: empty the recycle bin of customers past their corp's retention."""

from __future__ import annotations

import getpass

import click
from flask.cli import with_appcontext

from jobs.recycle import purge_recycle_bin


@click.group("customers", help="Customers and their recycle bin.")
def customers() -> None:
    pass


@customers.command("purge", help="Delete for good the customers binned longer than recycle_retention_days.")
@with_appcontext
def customers_purge() -> None:
    count = purge_recycle_bin(actor=f"cli:{getpass.getuser()}")
    click.echo(f"purged {count} customer(s) from the recycle bin")


COMMANDS = [customers]
