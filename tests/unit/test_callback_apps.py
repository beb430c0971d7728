"""Unknown callback slugs: answered 404 from a short-lived list of known slugs (one query per process per
MISS_CACHE_SECONDS, not one per request), while a newly added app answers at once through this process's
API, and within MISS_CACHE_SECONDS when another process (the CLI) added it."""

from __future__ import annotations

import time

from sqlalchemy import event, select

from models import App
from models.corp import Corp
from support import AES_KEY, TOKEN
from wecom.crypto import CallbackCrypto
from wecom.fake.sender import build_callback, render_sample

PARAMS = {"msg_signature": "x", "timestamp": "1", "nonce": "1", "echostr": "x"}


def statements(runtime) -> list[str]:  # type: ignore[no-untyped-def]
    """SQL run on the runtime's engine from now on (appended as they run)."""
    seen: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_flood_of_unknown_slugs_costs_one_query(client, runtime) -> None:
    client.get("/healthz")
    seen = statements(runtime)
    for n in range(50):
        r = client.post(f"/wecom/callback/nosuch{n}", query_string=PARAMS)
        assert (r.status_code, r.get_data(as_text=True)) == (404, "unknown app")
    assert len([q for q in seen if "FROM apps" in q]) == 2  # the first miss: its slug, then the slug list


def test_an_app_added_through_the_api_answers_at_once(client, runtime, make_token) -> None:
    assert client.post("/wecom/callback/sales", query_string=PARAMS).status_code == 404
    r = client.post("/api/v1/apps", headers=make_token(), json={
        "slug": "sales", "corp_id": "wwsalescorp", "token": TOKEN, "aes_key": AES_KEY, "secret": "s", "agent_id": 1000003})
    assert r.status_code == 201
    crypto = CallbackCrypto(TOKEN, AES_KEY, "wwsalescorp")
    params, body = build_callback(crypto, render_sample("message/text", corp_id="wwsalescorp", MsgId="1"))
    assert client.post("/wecom/callback/sales", query_string=params, data=body).status_code == 200


def test_an_app_added_by_another_process_answers_within_the_miss_window(client, runtime, monkeypatch) -> None:
    import web.callback

    monkeypatch.setattr(web.callback, "MISS_CACHE_SECONDS", 0.5)
    assert client.post("/wecom/callback/cli-app", query_string=PARAMS).status_code == 404
    with runtime.WriteSession.begin() as s:  # as `flask apps add` in its own process writes it
        corp = Corp(corp_id="wwclicorp")
        s.add(corp)
        s.flush()
        s.add(App(slug="cli-app", corp_pk=corp.id, kind="agent", token=TOKEN, aes_key=AES_KEY, secret="s"))
    assert client.post("/wecom/callback/cli-app", query_string=PARAMS).status_code == 404  # the miss, cached
    time.sleep(0.6)
    crypto = CallbackCrypto(TOKEN, AES_KEY, "wwclicorp")
    params, body = build_callback(crypto, render_sample("message/text", corp_id="wwclicorp", MsgId="1"))
    assert client.post("/wecom/callback/cli-app", query_string=params, data=body).status_code == 200


def test_a_slug_token_or_key_with_a_trailing_newline_is_refused_and_nothing_is_stored(  # type: ignore[no-untyped-def]
        client, runtime, make_token) -> None:
    """`$` matched before a final newline: "sales\\n" was a valid slug and "Token\\n" a valid token."""
    good = {"slug": "sales", "corp_id": "wwsalescorp", "token": TOKEN, "aes_key": AES_KEY, "secret": "s",
            "agent_id": 1000003}
    for field, value in (("slug", "sales\n"), ("token", TOKEN + "\n"), ("aes_key", AES_KEY + "\n")):
        r = client.post("/api/v1/apps", headers=make_token(), json={**good, field: value})
        assert r.status_code == 422, (field, r.get_json())
        assert list(r.get_json()["error"]["fields"]) == [field]
    with runtime.Session() as s:
        assert s.scalars(select(App.slug)).all() == ["default"]


def test_other_anchored_inputs_refuse_a_trailing_newline() -> None:
    from rules.fields import DATE, KEY, LANDLINE, MOBILE
    from rules.templates import VARIABLE_NAME
    from rules.working_hours import _CLOCK

    for pattern, value in ((KEY, "nickname"), (DATE, "2026-01-02"), (MOBILE, "13800000000"),
                           (LANDLINE, "02112345678"), (VARIABLE_NAME, "name"), (_CLOCK, "09:30")):
        assert pattern.fullmatch(value) and not pattern.fullmatch(value + "\n"), pattern.pattern
