"""Customer service under load, jobs inline: callbacks for an account whose sync is pending are counted and
served by that sync instead of planning their own; a pass that sees new callbacks plans the next pass; the
page's bot answers are delivered by the sync in one batch, a failing one on its own; process_batch takes
every waiting callback of a corp's kind."""

from __future__ import annotations

from typing import Any

import pytest
from kf_support import kf_callback, text
from sqlalchemy import func, select, update

from models import App, DeadLetter, Inbox, KfCursor, KnowledgeItem, Message, Outbox
from models.db import utcnow
from test_kf_flow import ANSWER, account, admin, bodies, deliver, kf  # noqa: F401  (fixtures)


@pytest.fixture
def knowledge(client, admin) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    r = client.post("/api/v1/kf/knowledge", json={"question": "怎么退货", "similar": ["如何退货"], "answer": ANSWER},
                    headers=admin)
    assert r.status_code == 201


def count(runtime, *where: Any) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(Outbox).where(*where))


def app_pk(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalars(select(App.id).order_by(App.id)).first()


def cursor_row(runtime) -> KfCursor:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalars(select(KfCursor)).one()


def test_a_callback_while_a_sync_is_pending_is_only_counted(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    deliver(sender, kf, open_kfid, text("wmA", "你好"))
    with runtime.WriteSession.begin() as s:  # a sync of the account is queued and has not run yet
        pending = Outbox(key="kf_sync:elsewhere", corp_id=account["corp_id"], job="kf_sync", queue="welcome",
                         args={"app_pk": app_pk(runtime), "open_kfid": open_kfid})
        s.add(pending)
        s.flush()
        s.execute(update(KfCursor).values(sync_outbox_id=pending.id))
    syncs, calls = count(runtime, Outbox.job == "kf_sync"), len(fake_wecom.calls("kf/sync_msg"))
    written = deliver(sender, kf, open_kfid, text("wmA", "在吗"))
    assert count(runtime, Outbox.job == "kf_sync") == syncs  # no second sync planned
    assert len(fake_wecom.calls("kf/sync_msg")) == calls  # and none run
    row = cursor_row(runtime)
    assert (row.requested, row.token, row.sync_outbox_id) == (2, written["token"], pending.id)
    with runtime.WriteSession.begin() as s:  # that sync ran (elsewhere): the next callback plans its own
        s.execute(update(Outbox).where(Outbox.id == pending.id).values(status="done", done_at=utcnow()))
    deliver(sender, kf, open_kfid, text("wmA", "人呢"))
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.origin == "customer")) == 3


def test_a_pass_that_saw_new_callbacks_plans_the_next_pass(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, monkeypatch) -> None:  # noqa: F811
    """A callback counted while a pass was paging: that pass ends and plans another, which fetches it."""
    import jobs.kf

    open_kfid = account["open_kfid"]
    real = jobs.kf._sync_pages
    late: list[dict[str, Any]] = []

    def pages_then_a_callback(*args: Any) -> dict[str, int]:
        totals = real(*args)
        if not late:  # the customer writes again, and its callback is counted, while this pass ends
            late.append(kf.write(open_kfid, text("wmA", "还在吗")))
            with runtime.WriteSession.begin() as s:
                s.execute(update(KfCursor).values(requested=KfCursor.requested + 1, token=late[0]["token"]))
        return totals

    monkeypatch.setattr(jobs.kf, "_sync_pages", pages_then_a_callback)
    first = deliver(sender, kf, open_kfid, text("wmA", "你好"))
    with runtime.Session() as s:
        syncs = s.execute(select(Outbox.key, Outbox.status).where(Outbox.job == "kf_sync").order_by(Outbox.id)).all()
        msgids = set(s.scalars(select(Message.msgid).where(Message.origin == "customer")))
    assert [status for _key, status in syncs] == ["done", "done"] and syncs[1][0].endswith(":again")
    assert msgids == {*first["msgids"], *late[0]["msgids"]}
    assert len(fake_wecom.calls("kf/sync_msg")) == 2


def test_answers_of_a_page_go_out_in_one_batch_and_a_refused_one_alone_fails(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge) -> None:  # noqa: F811
    open_kfid = account["open_kfid"]
    fake_wecom.fault("kf/send_msg", 95001)  # the first answer: WeCom refuses for good
    deliver(sender, kf, open_kfid, text("wmA", "如何退货"), text("wmB", "如何退货"), text("wmC", "如何退货"))
    assert sorted(b["touser"] for b in bodies(fake_wecom, "kf/send_msg")) == ["wmB", "wmC"]
    with runtime.Session() as s:
        rows = s.execute(select(Outbox.args, Outbox.status, Outbox.attempts).where(Outbox.job == "kf_send_text")).all()
        assert sorted((a["external_userid"], status, n) for a, status, n in rows) == [
            ("wmA", "failed", 1), ("wmB", "done", 1), ("wmC", "done", 1)]
        assert "95001" in s.scalar(select(DeadLetter.error))
        assert sorted(s.scalars(select(Message.external_userid).where(Message.origin == "bot"))) == ["wmB", "wmC"]
        assert s.scalar(select(KnowledgeItem.hits)) == 3  # counted once per matched question, in the page


def test_a_write_that_fails_after_its_call_leaves_only_its_own_row_pending(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime, knowledge, monkeypatch) -> None:  # noqa: F811
    import jobs.kf_send

    real = jobs.kf_send._store_sent

    def broken_for_wma(*args, **kwargs):  # type: ignore[no-untyped-def]
        if "wmA" in (*args, *kwargs.values()):  # the customer's external_userid, however it is passed
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs.kf_send, "_store_sent", broken_for_wma)
    deliver(sender, kf, account["open_kfid"], text("wmA", "如何退货"), text("wmB", "如何退货"))
    with runtime.Session() as s:
        rows = dict(s.execute(select(Outbox.args["external_userid"].as_string(), Outbox.status)
                              .where(Outbox.job == "kf_send_text")).all())
        assert s.scalar(select(Message.external_userid).where(Message.origin == "bot")) == "wmB"
    assert rows == {"wmA": "failed", "wmB": "done"}  # wmA went to its queue: run again, failed again, dead


def test_process_batch_takes_every_waiting_callback_of_the_corp(  # type: ignore[no-untyped-def]
        kf, account, client, admin, fake_wecom, runtime) -> None:  # noqa: F811
    """What the ingress does with Redis: store the callbacks and leave them to one process_batch job."""
    from jobs.events import process_batch

    r = client.post("/api/v1/kf/accounts", json={"name": "售前客服", "media_id": "MEDIA_2"}, headers=admin)
    second = r.get_json()["open_kfid"]
    first = account["open_kfid"]
    written = [kf.write(first, text("wmA", "你好")), kf.write(second, text("wmB", "你好")),
               kf.write(first, text("wmC", "你好"))]
    app = app_pk(runtime)
    with runtime.WriteSession.begin() as s:
        for n, (w, kfid) in enumerate(zip(written, (first, second, first), strict=True)):
            s.add(Inbox(app_pk=app, corp_id=account["corp_id"], dedup_key=f"batch-{n}", routing_key="kf_msg_or_event",
                        raw_xml=kf_callback(w["token"], kfid), status="received", attempts=0))
    assert process_batch(account["corp_id"], "kf_msg_or_event") == "3 processed"
    with runtime.Session() as s:
        assert set(s.scalars(select(Inbox.status).where(Inbox.routing_key == "kf_msg_or_event"))) == {"processed"}
        assert dict(s.execute(select(KfCursor.open_kfid, KfCursor.requested)).all()) == {first: 2, second: 1}
        assert sorted(s.scalars(select(Message.external_userid))) == ["wmA", "wmB", "wmC"]
    assert process_batch(account["corp_id"], "kf_msg_or_event") == "0 processed"


def test_a_kf_callback_without_an_account_or_sent_twice_changes_nothing_more(  # type: ignore[no-untyped-def]
        sender, kf, account, fake_wecom, runtime) -> None:  # noqa: F811
    """A callback that names no account is stored and handled as nothing to sync; WeCom's retry of a
    callback (same payload) is stored once and counted once."""
    open_kfid = account["open_kfid"]
    assert sender.post_xml(kf_callback("ENCsometoken", "")).status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(KfCursor)) == 0
        assert s.scalar(select(Inbox.status).where(Inbox.routing_key == "kf_msg_or_event")) == "processed"
    assert fake_wecom.calls("kf/sync_msg") == [] and count(runtime, Outbox.job == "kf_sync") == 0
    written = kf.write(open_kfid, text("wmA", "你好"))
    callback = kf_callback(written["token"], open_kfid)
    assert [sender.post_xml(callback).status_code for _ in range(2)] == [200, 200]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(Inbox).where(Inbox.routing_key == "kf_msg_or_event")) == 2
        assert s.scalar(select(func.count()).select_from(Message)) == 1
    assert cursor_row(runtime).requested == 1 and len(fake_wecom.calls("kf/sync_msg")) == 1


def test_messages_stored_later_go_in_at_commit_and_not_after_a_rollback(runtime) -> None:  # type: ignore[no-untyped-def]
    """`store_message(..., later=True)`: the page's rows wait for the commit and go in together; a
    transaction that fails leaves none behind, and the next one does not insert them either."""
    from handlers.moderation import store_message

    def message(msgid: str) -> Message:
        return Message(corp_id="wwtestcorp000001", source="kf", msgid=msgid, origin="customer", msgtype="text",
                       content=f"第{msgid}条", raw={"msgid": msgid}, send_time=utcnow())

    def stored() -> list[tuple[str, str, dict[str, Any]]]:
        with runtime.Session() as s:
            rows = list(s.scalars(select(Message).order_by(Message.msgid)))
            assert all(r.created_at is not None for r in rows)
            return [(r.msgid, r.content, r.raw) for r in rows]

    with pytest.raises(RuntimeError), runtime.WriteSession.begin() as s:
        store_message(s, message("0"), later=True)
        raise RuntimeError("the page failed")
    with runtime.WriteSession.begin() as s:
        for msgid in ("1", "2", "3"):
            store_message(s, message(msgid), later=True)
        assert s.scalar(select(func.count()).select_from(Message)) == 0  # not before the commit
    with runtime.WriteSession.begin() as s:
        store_message(s, message("4"))
    assert stored() == [(n, f"第{n}条", {"msgid": n}) for n in ("1", "2", "3", "4")]
