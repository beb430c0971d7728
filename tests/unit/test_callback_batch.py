"""process_batch with one bad row among good ones (issue 19, item 2): the bad row fails alone, the good
rows of the same batch are processed by that batch, not left for the sweeper."""

from __future__ import annotations

from typing import Any

from kf_support import kf_callback, text
from sqlalchemy import select

from jobs.events import process_batch
from models import App, DeadLetter, Inbox, KfCursor
from test_kf_flow import account, admin, kf  # noqa: F401  (fixtures)

KF = "kf_msg_or_event"


def store(runtime, corp_id: str, *raw: str) -> list[int]:  # type: ignore[no-untyped-def]
    """Inbox rows as the ingress leaves them for process_batch (`received`)."""
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalars(select(App.id).order_by(App.id)).first()
        rows = [Inbox(app_pk=app_pk, corp_id=corp_id, dedup_key=f"b-{n}", routing_key=KF, raw_xml=xml,
                      status="received", attempts=0) for n, xml in enumerate(raw)]
        s.add_all(rows)
        s.flush()
        return [row.id for row in rows]


def statuses(runtime, ids: list[int]) -> list[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        found = dict(s.execute(select(Inbox.id, Inbox.status).where(Inbox.id.in_(ids))).all())
        errors = dict(s.execute(select(Inbox.id, Inbox.error).where(Inbox.id.in_(ids))).all())
    return [(found[i], errors[i]) for i in ids]


def requested(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(KfCursor.requested))


def test_a_row_that_does_not_parse_is_marked_invalid_and_the_rest_of_the_batch_is_processed(
        kf, account, runtime) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """As an older ingress stored it: an OpenKfId holding elements (its batch group was an unhashable dict)."""
    open_kfid = account["open_kfid"]
    tokens = [kf.write(open_kfid, text(f"wm{n}", "你好"))["token"] for n in range(3)]
    bad = kf_callback("TBAD", open_kfid).replace(f"<OpenKfId>{open_kfid}</OpenKfId>", "<OpenKfId><a/></OpenKfId>")
    ids = store(runtime, account["corp_id"], kf_callback(tokens[0], open_kfid), bad,
                kf_callback(tokens[1], open_kfid), kf_callback(tokens[2], open_kfid))
    assert process_batch(account["corp_id"], KF) == "3 processed"
    assert statuses(runtime, ids) == [("processed", None), ("invalid", "open_kf_id holds elements where text is expected"),
                                      ("processed", None), ("processed", None)]
    assert requested(runtime) == 3


def test_a_row_whose_handler_fails_fails_alone(kf, account, runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from handlers import registry

    real = registry._HANDLERS[KF]

    def broken_for_tbad(ctx, event):  # type: ignore[no-untyped-def]
        if event.token == "TBAD":
            raise RuntimeError("disk full")
        for handler in real:
            handler(ctx, event)

    monkeypatch.setitem(registry._HANDLERS, KF, [broken_for_tbad])
    open_kfid = account["open_kfid"]
    tokens = [kf.write(open_kfid, text(f"wm{n}", "你好"))["token"] for n in range(2)]
    ids = store(runtime, account["corp_id"], kf_callback(tokens[0], open_kfid), kf_callback("TBAD", open_kfid),
                kf_callback(tokens[1], open_kfid))
    assert process_batch(account["corp_id"], KF) == "2 processed"
    (first, _), (bad, error), (last, _) = statuses(runtime, ids)
    assert (first, bad, last) == ("processed", "failed", "processed")  # inline: its own job ran, failed, dead
    assert "disk full" in error
    with runtime.Session() as s:
        assert s.scalars(select(DeadLetter.args).where(DeadLetter.job == "process_event")).all() == [[ids[1]]]
    assert requested(runtime) == 2
    assert process_batch(account["corp_id"], KF) == "0 processed"
