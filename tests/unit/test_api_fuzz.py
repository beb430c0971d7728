"""Schemathesis against the admin API: property-based requests generated from the OpenAPI document (bodies,
query strings and path ids, valid and invalid), sent with a super_admin token to an app seeded with the
customer world. No answer may be a 5xx. While the app is TESTING every 2xx answer is also checked against
its response model (web/endpoint.py), so a drifted schema fails here too.

`SCRM_FUZZ_EXAMPLES` sets the examples per operation (default 25, positive and negative: about a minute
for the ~75 operations on SQLite; a nightly-sized run is 200). `SCRM_API_FUZZ_EXAMPLES`, when set, overrides
it for this file alone: CI's MariaDB pass runs fewer here (see .ci/run) and the full callback fuzz.

The operations are dealt into SHARDS fixed shards (by a CRC of the operation's label, so a shard holds the
same operations on every run and machine): each shard is its own test function, which pytest-xdist can hand
to another worker; as one item the fuzz was the suite's longest pole (~150 s on one worker). The filter sits
on the lazy schema each test is parametrized from: schemathesis rebuilds the fixture's schema with the lazy
schema's filters only, so a filter set inside the fixture is dropped and every shard ran every operation."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from customer_world import build

SHARDS = 6
EXAMPLES = int(os.environ.get("SCRM_API_FUZZ_EXAMPLES") or os.environ.get("SCRM_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def api_schema(app, runtime):  # type: ignore[no-untyped-def]
    build(runtime)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def super_admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("super_admin")


def _in_shard(shard: int) -> Callable[[Any], bool]:
    return lambda ctx: zlib.crc32(ctx.operation.label.encode()) % SHARDS == shard


def _shard_test(shard: int) -> Callable[..., None]:
    """The fuzz over one shard's operations."""

    @schemathesis.pytest.from_fixture("api_schema").include(func=_in_shard(shard)).parametrize()
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def test_no_input_gets_a_5xx(case, super_admin) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=super_admin)
        assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body,
                                             response.text[:500])

    return test_no_input_gets_a_5xx


test_shard0, test_shard1, test_shard2, test_shard3, test_shard4, test_shard5 = map(_shard_test, range(SHARDS))
