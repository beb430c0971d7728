"""The JS-SDK tickets in Redis, shared by processes: fetched once for their lifetime, by one at a time."""

from __future__ import annotations

import threading

from redis import Redis

from support import CORP_ID, SECRET
from wecom.client import TOKEN_EARLY_REFRESH, WeComClient


def test_processes_sharing_redis_fetch_each_ticket_once(fake_wecom, redis_url) -> None:
    """Eight clients (as eight processes would have) at once, one Redis: one get_jsapi_ticket, one ticket/get."""
    redis = Redis.from_url(redis_url)
    clients = [WeComClient(CORP_ID, SECRET, fake_wecom.api_base, redis=redis) for _ in range(8)]
    got: list[tuple[str, str]] = []
    threads = [threading.Thread(target=lambda c=c: got.append((c.jsapi_ticket(), c.agent_ticket()))) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1
    assert len(fake_wecom.calls("get_jsapi_ticket")) == 1 and len(fake_wecom.calls("ticket/get")) == 1
    for kind in ("jsapi_ticket", "agent_ticket"):  # kept for WeCom's 7200 s less the early refresh
        assert 0 < redis.ttl(f"wecom:{clients[0].access_token_key}:{kind}") <= 7200 - TOKEN_EARLY_REFRESH
