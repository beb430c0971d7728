"""`flask --app app ...` commands: db, token, apps, events, dead-letters, sweep, send-sample, fake."""

from __future__ import annotations

from flask import Flask

from cli import admin, db, directory, wecom_tools


def register(app: Flask) -> None:
    for group in (*db.COMMANDS, *admin.COMMANDS, *directory.COMMANDS, *wecom_tools.COMMANDS):
        app.cli.add_command(group)
