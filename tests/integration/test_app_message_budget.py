"""A burst of app messages to one member with real parts (gunicorn, Redis, an rq worker with its scheduler):
WeCom drops a member's messages beyond 30 a minute without an error (doc 90454), so the service spreads
them over the windows itself, and every one arrives. The minute is shortened to 2 s on both sides:
SCRM_APP_MESSAGE_WINDOW for the service, POST /fake/message_limits for the fake WeCom."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import func, select

from integration.realparts import wait_for
from models import Outbox
from models.db import make_engine, make_session_factory
from support import AGENT_ID, CORP_ID
from wecom.fake.sender import build_callback, render_sample

WINDOW = 2
LOST = "change_external_contact/del_follow_user"


@pytest.fixture
def short_window(fake_wecom) -> Iterator[None]:  # type: ignore[no-untyped-def]
    requests.post(f"{fake_wecom.url}/fake/message_limits", json={"window_seconds": WINDOW},
                  timeout=5).raise_for_status()
    yield
    requests.post(f"{fake_wecom.url}/fake/message_limits", json={"window_seconds": 60}, timeout=5).raise_for_status()


def test_a_burst_of_100_messages_to_one_member_is_spread_over_the_windows_and_all_arrive(
        service, service_env, start_worker, crypto, fake_wecom, clean_db, short_window) -> None:
    start_worker({**service_env, "SCRM_APP_MESSAGE_WINDOW": str(WINDOW)}, "rq.worker.SimpleWorker")
    for n in range(100):
        plaintext = render_sample(LOST, corp_id=CORP_ID, UserID="zhangsan", ExternalUserID=f"wmBurst{n:04d}")
        params, body = build_callback(crypto, plaintext, AGENT_ID)
        assert requests.post(f"{service}/wecom/callback/default", params=params, data=body, timeout=10).ok

    def log() -> dict[str, list[dict]]:
        return requests.get(f"{fake_wecom.url}/fake/app_messages", timeout=5).json()

    wait_for(lambda: len(log()["delivered"]) >= 100, 120, "100 app messages delivered")
    final = log()
    assert final["dropped"] == [] and final["duplicate"] == []
    texts = [m["message"]["text"]["content"] for m in final["delivered"]]
    assert len(texts) == len(set(texts)) == 100
    times = sorted(m["at"] for m in final["delivered"])
    print(f"100 app messages delivered over {times[-1] - times[0]:.1f} s")
    assert times[-1] - times[0] >= 3 * WINDOW  # at most 25 a window: the 100 take four of them
    Session = make_session_factory(make_engine(clean_db))
    with Session() as s:
        statuses = dict(s.execute(select(Outbox.status, func.count()).where(Outbox.job == "notify_lost")
                                  .group_by(Outbox.status)).all())
    assert statuses == {"done": 100}
