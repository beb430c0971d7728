"""Commands that play WeCom's side: send a sample callback, run the fake WeCom API server."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from models import App
from wecom.crypto import CallbackCrypto
from wecom.fake.sender import post_callback, render_sample, sample_names


@click.command("send-sample", help="Encrypt sample NAME (or --file XML) and POST it to a running service.")
@click.argument("name", required=False)
@click.option("--file", "xml_file", type=click.Path(exists=True, dir_okay=False), help="Send this XML instead.")
@click.option("--app", "slug", default="default", show_default=True, help="The app whose keys encrypt it.")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Override a field, e.g. ExternalUserID=wm1")
@click.option("--list", "list_only", is_flag=True, help="List the sample names.")
@with_appcontext
def send_sample(name: str | None, xml_file: str | None, slug: str, base_url: str, sets: tuple[str, ...],
                list_only: bool) -> None:
    if list_only:
        click.echo("\n".join(sample_names()))
        return
    with current_app.extensions["scrm"].Session() as s:
        app = s.scalar(select(App).where(App.slug == slug))
        if app is None:
            raise click.ClickException(f"no app {slug!r}")
        crypto, agent_id = CallbackCrypto(app.token, app.aes_key, app.corp.corp_id), app.agent_id
    if xml_file:
        with open(xml_file, encoding="utf-8") as fh:
            plaintext = fh.read()
    elif name:
        fields = dict(item.split("=", 1) for item in sets if "=" in item)
        try:
            plaintext = render_sample(name, corp_id=crypto.corp_id, **fields)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        raise click.UsageError("give a sample NAME or --file (see --list)")
    response = post_callback(f"{base_url.rstrip('/')}/wecom/callback/{slug}", crypto, plaintext, agent_id)
    click.echo(f"HTTP {response.status_code} {response.text[:200]}")
    if response.status_code != 200:
        raise SystemExit(1)


COMMANDS = [send_sample]
