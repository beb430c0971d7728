"""The fake WeCom as a WSGI app for a real server: ``gunicorn -k gthread "wecom.fake.wsgi:app('seed.json')"``.

Werkzeug's development server (``python -m wecom.fake``) closes every connection after one response, so
each API call costs a new TCP connection on both sides. WeCom keeps connections alive, and a load
benchmark that pays for connection set-up the real service would not pay measures the fake, not us; under
gunicorn's threaded worker the same app keeps them open. One worker process only: the state is in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask

from wecom.fake.server import create_fake_app
from wecom.fake.state import FakeState


def app(seed: str = "", token_ttl: int = 7200, rate_limit: int = 10000) -> Flask:
    """The fake app with `seed` (a JSON file in POST /fake/seed's shape) loaded; raises ValueError
    (SeedError, JSONDecodeError) or OSError when the seed cannot be used."""
    state = FakeState()
    if seed:
        state.seed(json.loads(Path(seed).read_text(encoding="utf-8")))
    return create_fake_app(state, token_ttl=token_ttl, rate_limit_per_minute=rate_limit)
