"""Alembic revisions; `flask --app app db upgrade` applies them (see `migrations.runner`)."""
