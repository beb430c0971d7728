"""Fixtures the fake WeCom's own tests share (test_fake_*.py, test_kf_fake.py): a seeded fake on a free port
and an access token it issued. A module that needs another fake (other limits, another seed) defines its own
`fake`, which wins over this one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_fake_server import seeded, token_for

from wecom.fake import FakeWeComServer


@pytest.fixture
def fake() -> Iterator[FakeWeComServer]:
    with seeded() as server:
        yield server


@pytest.fixture
def token(fake: FakeWeComServer) -> str:
    return token_for(fake)
