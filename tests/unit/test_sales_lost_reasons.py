"""The corp's lost reasons (输单原因, 9.9.3): an editable list (add, rename, reorder, delete when no deal names
it), a move to the lost stage needs one of them, and the free-text reasons stored before the list existed
become its entries when the database is migrated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from migrations import runner
from models import AuditLog, LostReason, Opportunity
from models.db import make_engine
from support import CORP_ID
from test_sales_opportunities import deal, world  # noqa: F401  (the fixture)

REASONS = "/api/v1/lost-reasons"


def names(client, headers) -> list[str]:  # type: ignore[no-untyped-def]
    body = client.get(REASONS, headers=headers, query_string={"corp_id": CORP_ID}).get_json()
    return [r["name"] for r in body["items"]]


def add(client, world, name: str, **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    r = client.post(REASONS, headers=world["admin"], json={"corp_id": CORP_ID, "name": name, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_list_is_added_to_reordered_and_renamed_by_admins(client, runtime, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    add(client, world, "预算不足")
    first = add(client, world, "选了竞品", position=0)
    assert names(client, world["zhangsan"]) == ["选了竞品", "价格太高", "预算不足"]
    r = client.patch(f"{REASONS}/{first['id']}", headers=world["admin"], json={"position": 9, "name": "竞品"})
    assert (r.status_code, r.get_json()["position"]) == (200, 2)
    assert names(client, world["admin"]) == ["价格太高", "预算不足", "竞品"]
    taken = client.post(REASONS, headers=world["admin"], json={"corp_id": CORP_ID, "name": "竞品"})
    assert (taken.status_code, taken.get_json()["error"]["fields"]) == (409, {"name": "taken"})
    member = client.post(REASONS, headers=world["zhangsan"], json={"corp_id": CORP_ID, "name": "x"})
    assert member.status_code == 403
    assert names(client, world["admin"]) == ["价格太高", "预算不足", "竞品"]
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.action).where(AuditLog.target == f"lost_reason:{first['id']}")
                        .order_by(AuditLog.id.desc()).limit(1)) == "lost_reason.update"


def test_a_deal_moves_to_lost_only_with_a_reason_from_the_list(client, runtime, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pk = deal(client, world)["id"]
    url, lost = f"/api/v1/opportunities/{pk}/stage", world["stages"]["lost"]
    for body, why in (({"stage_id": lost}, "required"), ({"stage_id": lost, "lost_reason_id": 999999}, "no lost")):
        r = client.post(url, headers=world["zhangsan"], json=body)
        assert r.status_code == 422 and r.get_json()["error"]["fields"]["lost_reason_id"].startswith(why), r.get_json()
    with runtime.Session() as s:  # refused: nothing moved
        row = s.get(Opportunity, pk)
        assert (row.stage_id, row.lost_reason_id) == (world["stages"]["初步接洽"], None)
    r = client.post(url, headers=world["zhangsan"], json={"stage_id": lost, "lost_reason_id": world["reason"]})
    assert (r.status_code, r.get_json()["lost_reason"]) == (200, "价格太高")
    client.patch(f"{REASONS}/{world['reason']}", headers=world["admin"], json={"name": "太贵"})
    assert client.get(f"/api/v1/opportunities/{pk}", headers=world["zhangsan"]).get_json()["lost_reason"] == "太贵"


def test_a_reason_a_deal_names_is_not_deleted(client, runtime, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    spare = add(client, world, "预算不足")
    for _ in range(2):
        pk = deal(client, world)["id"]
        client.post(f"/api/v1/opportunities/{pk}/stage", headers=world["zhangsan"],
                    json={"stage_id": world["stages"]["lost"], "lost_reason_id": world["reason"]})
    r = client.delete(f"{REASONS}/{world['reason']}", headers=world["admin"])
    assert r.status_code == 409 and "2 opportunities" in r.get_json()["error"]["message"]
    assert client.delete(f"{REASONS}/{spare['id']}", headers=world["admin"]).status_code == 200
    assert names(client, world["admin"]) == ["价格太高"]
    assert client.delete(f"{REASONS}/{spare['id']}", headers=world["admin"]).status_code == 404


def test_migrating_turns_the_free_text_reasons_into_the_list(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    runner.upgrade(engine, "0013_i13sales_opportunities")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (id, corp_id, external_userid, name, avatar, corp_name, position, "
                          "created_at, updated_at) VALUES (1, 'wwa', 'wm1', 'x', '', '', '', '2026-01-01', "
                          "'2026-01-01')"))
        stage = conn.execute(text("INSERT INTO opportunity_stages (corp_id, name, position, probability, outcome, "
                                  "created_at) VALUES ('wwa', '输单', 0, 0, 'lost', '2026-01-01')")).lastrowid
        for reason in ("价格太高", "价格太高", "选了竞品", ""):
            conn.execute(text("INSERT INTO opportunities (corp_id, customer_id, name, stage_id, amount_cents, "
                              "expected_close, owner_userid, pinned, lost_reason, created_by, created_at, "
                              "updated_at) VALUES ('wwa', 1, 'd', :st, 1, '2026-12-31', 'u', 0, :r, 't', "
                              "'2026-01-01', '2026-01-01')"), {"st": stage, "r": reason})
    runner.upgrade(engine)
    with engine.connect() as conn:
        reasons = dict(conn.execute(select(LostReason.id, LostReason.name).order_by(LostReason.position)).all())
        named = [reasons.get(r) for r in conn.scalars(select(Opportunity.lost_reason_id).order_by(Opportunity.id))]
    assert list(reasons.values()) == ["价格太高", "选了竞品"]
    assert named == ["价格太高", "价格太高", "选了竞品", None]
    runner.downgrade(engine, "0013_i13sales_opportunities")
    with engine.connect() as conn:
        assert list(conn.scalars(text("SELECT lost_reason FROM opportunities ORDER BY id"))) == [
            "价格太高", "价格太高", "选了竞品", ""]
    engine.dispose()

