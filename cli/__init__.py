"""`flask --app app ...` commands: db, token, apps, events, dead-letters, sweep, customers, directory, tags,
send-sample, fake."""

from __future__ import annotations

from flask import Flask

from cli import admin, customers, db, directory, tags, wecom_tools


def register(app: Flask) -> None:
    for group in (*db.COMMANDS, *admin.COMMANDS, *customers.COMMANDS, *directory.COMMANDS, *tags.COMMANDS,
                  *wecom_tools.COMMANDS):
        app.cli.add_command(group)
