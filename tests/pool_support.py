"""The public pool (公海) as the scope tests need it: a customer waiting in the corp's default pool that no
member follows (as the pool scan leaves one), and a member claiming it over the admin API, which makes them
its owner (跟进人) without any WeCom friendship."""

from __future__ import annotations

from typing import Any

from models import Customer
from models.db import utcnow
from models.pool import default_pool
from support import CORP_ID


def pooled_customer(runtime: Any, external_userid: str, name: str) -> int:
    """A customer of the test corp in its default pool, followed by no one; its id."""
    with runtime.WriteSession.begin() as s:
        pool = default_pool(s, CORP_ID)
        s.flush()
        row = Customer(corp_id=CORP_ID, external_userid=external_userid, name=name, pool_id=pool.id,
                       pooled_at=utcnow())
        s.add(row)
        s.flush()
        return row.id


def claim(client: Any, headers: dict[str, str], customer_id: int) -> None:
    """POST /api/v1/pool-customers/<id>/claim as the member `headers` names; it must succeed."""
    r = client.post(f"/api/v1/pool-customers/{customer_id}/claim", headers=headers, json={})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["action"] == "claimed"
