"""`scrm …` / `flask --app app …` commands: db, token, apps, events, dead-letters, sweep, customers, directory, groups,
tags, send-sample, fake; `scrm` adds web, worker and cron (cli/scrm.py).

The command modules are imported in `register`, not here: `cli.scrm` is imported by the `scrm` console
script before it has taken the working directory off sys.path, and must not pull in our other modules yet.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from cli import admin, customers, db, directory, groups, tags, wecom_tools

    for group in (*db.COMMANDS, *admin.COMMANDS, *customers.COMMANDS, *directory.COMMANDS, *groups.COMMANDS,
                  *tags.COMMANDS, *wecom_tools.COMMANDS):
        app.cli.add_command(group)
