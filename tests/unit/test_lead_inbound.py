"""The signed inbound webhook for web sites (002 §3.7-3.8): `POST /api/v1/inbound/leads`. A source's secret
is shown once; a good signature makes a lead (source channel: the source's name, the rules run on it); a bad,
old, future or missing signature, an unknown or disabled source are a 401 with nothing stored; a repeated
Idempotency-Key answers the first answer (status and body) and creates nothing."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from customer_world import all_rows, build, rejected
from models import InboundRequest, Lead, LeadSource
from support import CORP_ID
from web.lead_inbound import signature

INBOUND = "/api/v1/inbound/leads"


@pytest.fixture
def world(client, runtime, make_token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    build(runtime)
    admin = make_token("admin", name="adm")
    r = client.post("/api/v1/lead-sources", headers=admin, json={"corp_id": CORP_ID, "name": "官网"})
    assert r.status_code == 201, r.get_json()
    return {"admin": admin, "source": r.get_json()}


def push(client, source: dict[str, Any], body: Any, *, stamp: int | None = None, secret: str | None = None,  # type: ignore[no-untyped-def]
         key: str | None = None, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    ts = str(int(time.time()) if stamp is None else stamp)
    headers = {"X-Lead-Source": str(source["id"]), "X-Timestamp": ts, "Content-Type": "application/json",
               "X-Signature": signature(secret or source["secret"], ts, data)}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(INBOUND, data=data, headers=headers)


def test_the_secret_is_shown_once(client, world) -> None:  # type: ignore[no-untyped-def]
    assert len(world["source"]["secret"]) == 64
    r = client.get("/api/v1/lead-sources", headers=world["admin"], query_string={"corp_id": CORP_ID})
    assert r.get_json()["items"] == [{k: v for k, v in world["source"].items() if k != "secret"}]


def test_a_signed_push_makes_a_lead_from_the_source(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    r = push(client, world["source"], {"name": "网站访客", "mobile": "139-0000-1234", "company": "鼎资"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"id": r.get_json()["id"], "status": "new", "owner": None}
    with runtime.Session() as s:
        lead = s.get(Lead, r.get_json()["id"])
        assert (lead.corp_id, lead.name, lead.mobile, lead.source, lead.creator, lead.needs_manual) == (
            CORP_ID, "网站访客", "13900001234", "官网", "官网", True)


@pytest.mark.parametrize("how", ["wrong secret", "old", "future", "body changed", "no signature", "unknown source",
                                 "timestamp not signed"])
def test_a_bad_or_old_signature_is_a_401_and_nothing_is_stored(client, runtime, world, how) -> None:  # type: ignore[no-untyped-def]
    source, body, now = world["source"], {"name": "坏人"}, int(time.time())

    def send():  # type: ignore[no-untyped-def]
        if how == "wrong secret":
            return push(client, source, body, secret="0" * 64, key="k1")
        if how == "old":
            return push(client, source, body, stamp=now - 301, key="k1")  # `now` is floored: 301 s or more
        if how == "future":
            return push(client, source, body, stamp=now + 310, key="k1")
        if how == "unknown source":
            return push(client, source | {"id": source["id"] + 1}, body, key="k1")
        data = json.dumps(body).encode()
        good = signature(source["secret"], str(now), data)
        headers = {"X-Lead-Source": str(source["id"]), "X-Timestamp": str(now), "Idempotency-Key": "k1"}
        if how == "body changed":
            return client.post(INBOUND, data=json.dumps({"name": "别人"}).encode(),
                               headers=headers | {"X-Signature": good})
        if how == "timestamp not signed":  # a signature of the body alone
            import hashlib
            import hmac
            alone = hmac.new(source["secret"].encode(), data, hashlib.sha256).hexdigest()
            return client.post(INBOUND, data=data, headers=headers | {"X-Signature": alone})
        return client.post(INBOUND, data=data, headers=headers)

    rejected(runtime, send, 401, "unauthorized")


def test_a_push_just_inside_five_minutes_is_taken(client, world) -> None:  # type: ignore[no-untyped-def]
    assert push(client, world["source"], {"name": "甲"}, stamp=int(time.time()) - 290).status_code == 201
    assert push(client, world["source"], {"name": "乙"}, stamp=int(time.time()) + 290).status_code == 201


def test_a_repeated_idempotency_key_answers_the_first_answer_and_creates_nothing(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    first = push(client, world["source"], {"name": "访客", "mobile": "13900001234"}, key="order-1")
    assert first.status_code == 201
    before = all_rows(runtime)
    again = push(client, world["source"], {"name": "访客", "mobile": "13900001234"}, key="order-1")
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    other = push(client, world["source"], {"name": "另一个人"}, key="order-1")  # same key, other body: same answer
    assert (other.status_code, other.get_json()) == (201, first.get_json())
    assert all_rows(runtime) == before
    bad = push(client, world["source"], {"name": ""}, key="order-2")
    assert bad.status_code == 422 and "name" in bad.get_json()["error"]["fields"]
    assert push(client, world["source"], {"name": "好了"}, key="order-2").get_json() == bad.get_json()
    dup = push(client, world["source"], {"name": "重复", "mobile": "13900001234"}, key="order-3")
    assert dup.status_code == 409 and dup.get_json()["error"]["fields"] == {"mobile": "duplicate"}
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 1
        assert s.scalar(select(func.count()).select_from(InboundRequest)) == 3


def test_a_disabled_source_is_refused(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    r = client.delete(f"/api/v1/lead-sources/{world['source']['id']}", headers=world["admin"])
    assert r.status_code == 200
    rejected(runtime, lambda: push(client, world["source"], {"name": "x"}), 401, "unauthorized")
    with runtime.Session() as s:
        assert s.scalar(select(LeadSource.disabled_at)) is not None


def test_a_body_over_the_limit_is_a_413(client, runtime, world) -> None:  # type: ignore[no-untyped-def]
    rejected(runtime, lambda: push(client, world["source"], None, raw=b'{"name": "' + b"x" * 70_000 + b'"}'),
             413, "too_large")


def test_concurrent_firsts_of_one_key_make_one_lead_and_one_answer(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    answers: list[tuple[int, Any]] = []

    def send(n: int) -> None:
        with app.test_client() as c:
            r = push(c, world["source"], {"name": f"访客{n}"}, key="same")
            answers.append((r.status_code, r.get_json()))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 and len({json.dumps(a) for a in answers}) == 1 and answers[0][0] == 201
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 1


def test_concurrent_leads_with_one_mobile_make_one_and_409s(app, runtime, world) -> None:  # type: ignore[no-untyped-def]
    statuses: list[int] = []

    def send(n: int) -> None:
        with app.test_client() as c:
            statuses.append(push(c, world["source"], {"name": f"访客{n}", "mobile": "13900009999"}).status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
