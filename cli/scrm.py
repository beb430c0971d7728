"""`scrm`: the installed service's commands, the same from any working directory.

The wheel installs the repository's top-level packages (`app`, `config`, `web`, `jobs`, …) as they are:
that layout is the design, and a distribution-wide namespace would rename every import. The risk is a
file of the same name in the working directory: `gunicorn`, `flask --app` and `python -m` put the
working directory first on sys.path, so an operator's stray `config.py` would replace ours. `scrm` takes
the working directory off sys.path before it imports anything of ours (unless it is our own checkout),
and runs gunicorn and rq in-process with that path:

    scrm db upgrade | token create | apps add | …   the Flask commands (`flask --app app …` in a checkout)
    scrm web [gunicorn options]                      gunicorn with web/gunicorn_conf.py
    scrm worker [--burst] [QUEUE…]                   rq worker: SimpleWorker (jobs/worker.py), with the scheduler
    scrm cron                                        rq cron jobs.cron

Every one reads the same `.env` (config.env_file) and takes REDIS_URL from it for rq's own connection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

CODE_ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds our top-level packages: site-packages when installed, the checkout otherwise."""

DEFAULT_QUEUES = ("welcome", "outbound", "events", "maintenance")
"""In this order: welcomes die 20 s after their event, then effects of handled events, then new ones (README)."""


def drop_working_directory() -> None:
    """Take the working directory off sys.path, unless it is where our code is (a checkout)."""
    cwd = Path.cwd().resolve()
    if cwd == CODE_ROOT:
        return
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != cwd]


def _redis_url() -> str:
    from config import load_settings

    url = load_settings().redis_url
    if not url:
        raise click.UsageError("REDIS_URL is not set: without Redis, jobs run inline in the web process "
                               "and need no worker or cron")
    return url


def _rq(*args: str) -> None:
    """rq's own command line, in this process (its `--path` appends; ours is already first)."""
    from rq.cli.cli import main as rq_main

    from web import logs

    logs.configure()  # before rq sets up its handlers: it then keeps ours
    rq_main(args=list(args), prog_name="scrm")


@click.command("web", context_settings={"ignore_unknown_options": True, "help_option_names": []},
               help="gunicorn with the service's config (web/gunicorn_conf.py); options go to gunicorn.")
@click.argument("gunicorn_args", nargs=-1, type=click.UNPROCESSED)
def web(gunicorn_args: tuple[str, ...]) -> None:
    from gunicorn.app.wsgiapp import WSGIApplication

    class Gunicorn(WSGIApplication):
        def chdir(self) -> None:
            os.chdir(self.cfg.chdir)  # and no sys.path.insert of it, which gunicorn would do

    sys.argv = ["scrm web", "-c", "python:web.gunicorn_conf", *gunicorn_args]
    Gunicorn("%(prog)s [OPTIONS]").run()


@click.command("worker", help=f"rq worker on REDIS_URL: SimpleWorker (request ids in its lines) with the "
                              f"scheduler, on QUEUES (default: {' '.join(DEFAULT_QUEUES)}).")
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option("--name", help="The worker's name (default: rq's).")
@click.argument("queues", nargs=-1)
def worker(burst: bool, name: str | None, queues: tuple[str, ...]) -> None:
    args = ["worker", "--url", _redis_url(), "--worker-class", "jobs.worker.Worker", "--with-scheduler",
            "--path", str(CODE_ROOT)]
    args += ["--burst"] if burst else []
    args += ["--name", name] if name else []
    _rq(*args, *(queues or DEFAULT_QUEUES))


@click.command("cron", help="rq cron jobs.cron on REDIS_URL: one per deployment (jobs/cron.py lists the jobs).")
def cron() -> None:
    _rq("cron", "--url", _redis_url(), "--path", str(CODE_ROOT), "jobs.cron")


def main(argv: list[str] | None = None) -> None:
    """The console script."""
    drop_working_directory()
    from flask.cli import FlaskGroup

    from app import create_app

    from config import ConfigError

    group = FlaskGroup(name="scrm", help=__doc__, create_app=lambda: create_app(), add_default_commands=False,
                       load_dotenv=False)
    for command in (web, worker, cron):
        group.add_command(command)
    try:
        group.main(args=argv, prog_name="scrm")
    except ConfigError as exc:  # a setting the service cannot run with: say which, without a traceback
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
