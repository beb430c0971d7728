"""A batch of outbox effects delivered together (jobs/outbound.py `deliver_here`, issue 18, processing): the
profile syncs' writes read their customers, relations and tags once for the batch (`load_synced`), staff
already stored cost no user/get, and a write that fails keeps only its own row from being done, however
the batch's writes are split into transactions (`SETTLE_ROWS` on SQLite, one on MySQL/MariaDB).

Customers and tags are set in the fake WeCom and read back from it over HTTP; what the batch left is read
from the CRM's rows."""

from __future__ import annotations

import logging
import uuid
import warnings
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SAWarning
from statements import commits, counted
from support import CORP_ID, SECRET

from jobs.outbound import EFFECTS, SETTLE_ROWS, deliver_here
from models import App, Customer, DeadLetter, FollowRelation, FollowTag, Outbox, Staff, Tag
from models.db import utcnow
from wecom.client import WeComClient

SYNC_CEILING = 110
"""Statements of a whole deliver_here of 8 profile syncs of stored customers, each followed by two stored
members with tags changing (from the read of the batch's rows to the settle's commit; most are the rows'
own writes): 138 before issue 18's batch loading, 85 after it, on SQLite (127 and 81 on MariaDB)."""
SYNC_READS = 40
"""Of those, the SELECTs: 66 before (per customer: its row, its relations, its staff, its relation's tags,
the SOP plans and smart-tag rules), 20 after (the customers, their relations and tags once per batch), on
SQLite and MariaDB alike."""


@pytest.fixture
def wecom(fake_wecom) -> WeComClient:  # type: ignore[no-untyped-def]
    """A client on the fake, to change customers' tags the way a member in WeCom would."""
    return WeComClient(CORP_ID, SECRET, fake_wecom.api_base)


@pytest.fixture
def tags(client, make_token, wecom) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Tags A-D in the fake's library, synced into ours through the API: name → WeCom tag id."""
    group = wecom.post("externalcontact/add_corp_tag", data={
        "group_name": "等级", "tag": [{"name": name} for name in "ABCD"]})["tag_group"]
    assert client.post("/api/v1/tags/sync", headers=make_token("admin")).status_code == 202
    return {t["name"]: t["id"] for t in group["tag"]}


def external(n: int) -> str:
    return f"wmBatch{n:03d}"


def seed_customers(fake_wecom, count: int, followers: tuple[str, ...] = ("zhangsan", "lisi")) -> None:  # type: ignore[no-untyped-def]
    fake_wecom.seed({"external_contacts": [
        {"corpid": CORP_ID, "external_contact": {"external_userid": external(n), "name": f"客户{n}", "type": 1},
         "follow_user": [{"userid": u, "remark": f"{u}的客户", "createtime": 1732000000 + n, "tags": []}
                         for u in followers]}
        for n in range(count)]})


def mark(wecom: WeComClient, userid: str, n: int, add: tuple[str, ...] | list[str] = (),
         remove: tuple[str, ...] | list[str] = ()) -> None:
    """A member tags the customer in WeCom (no callback reaches the CRM for it)."""
    wecom.post("externalcontact/mark_tag", data={"userid": userid, "external_userid": external(n),
                                                 "add_tag": list(add), "remove_tag": list(remove)})


def store_customers(runtime, count: int, tag_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Customers as an earlier sync left them: an old name, zhangsan's relation only, tagged `tag_ids`; both
    members stored as staff."""
    with runtime.WriteSession.begin() as s:
        s.add_all([Staff(corp_id=CORP_ID, userid=u, name=u) for u in ("zhangsan", "lisi")])
        pks = dict(s.execute(select(Tag.tag_id, Tag.id)).all())
        for n in range(count):
            customer = Customer(corp_id=CORP_ID, external_userid=external(n), name=f"旧名{n}")
            follow = FollowRelation(corp_id=CORP_ID, userid="zhangsan", added_at=utcnow(), status="active")
            customer.follows.append(follow)
            s.add(customer)
            s.flush()
            s.add_all([FollowTag(follow_id=follow.id, customer_id=customer.id, tag_pk=pks[t]) for t in tag_ids])


def pending_rows(runtime, *rows: tuple[str, dict[str, Any]]) -> list[int]:  # type: ignore[no-untyped-def]
    """Outbox rows (effect, args) as a committed chunk of events leaves them: pending, in this order."""
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id))
        made = [Outbox(key=f"batch:{uuid.uuid4().hex}", corp_id=CORP_ID, job=job, args={"app_pk": app_pk, **args})
                for job, args in rows]
        s.add_all(made)
        s.flush()
        return [row.id for row in made]


def syncs(*customers: int) -> list[tuple[str, dict[str, Any]]]:
    return [("sync_customer", {"external_userid": external(n)}) for n in customers]


def deliver(ids: list[int]) -> None:
    """The rows as one batch; no statement of it may act on rows that are not there (a write working from
    tags loaded before another write of the batch changed them deletes a row already gone)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SAWarning)
        deliver_here([(outbox_id, "outbound") for outbox_id in ids])
    assert [str(w.message) for w in caught if issubclass(w.category, SAWarning)] == []


def crm(runtime, n: int) -> tuple[str, dict[str, set[str]]]:  # type: ignore[no-untyped-def]
    """The customer's name and, per following member, the WeCom ids of the tags on the relation."""
    with runtime.Session() as s:
        customer = s.scalar(select(Customer).where(Customer.external_userid == external(n)))
        follows: dict[str, set[str]] = {f.userid: set() for f in customer.follows}
        for userid, tag_id in s.execute(select(FollowRelation.userid, Tag.tag_id).join(
                FollowTag, FollowTag.follow_id == FollowRelation.id).join(Tag, Tag.id == FollowTag.tag_pk)
                .where(FollowRelation.customer_id == customer.id)):
            follows[userid].add(tag_id)
        return customer.name, follows


def in_wecom(wecom: WeComClient, n: int) -> tuple[str, dict[str, set[str]]]:
    """The same, as the fake's externalcontact/get says."""
    answer = wecom.get_external_contact(external(n))
    return answer["external_contact"]["name"], {f["userid"]: {t["tag_id"] for t in f["tags"] if t["type"] == 1}
                                                 for f in answer["follow_user"]}


def statuses(runtime, ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        found = dict(s.execute(select(Outbox.id, Outbox.status).where(Outbox.id.in_(ids))).all())
    return [found[i] for i in ids]


def batch_failures(caplog) -> list[str]:  # type: ignore[no-untyped-def]
    """What the batch logged about writes it had to take again one by one."""
    return [r.getMessage() for r in caplog.records if r.name == "jobs.outbound" and r.levelno >= logging.ERROR]


# -- a batch of profile syncs ---------------------------------------------------------------------------------
def test_a_batch_of_syncs_writes_every_customer_as_wecom_has_it_in_few_statements(
        runtime, fake_wecom, wecom, tags, caplog) -> None:  # type: ignore[no-untyped-def]
    seed_customers(fake_wecom, 8)
    store_customers(runtime, 8, [tags["A"], tags["C"]])
    for n in range(8):  # zhangsan's tags change (C off, B on), lisi's relation is new with D on half of them
        mark(wecom, "zhangsan", n, add=[tags["A"], tags["B"]])
        if n % 2:
            mark(wecom, "lisi", n, add=[tags["D"]])
    ids = pending_rows(runtime, *syncs(*range(8)))
    fake_wecom.clear_calls()
    with counted(runtime.engine) as log:
        deliver(ids)
    assert len(log) <= SYNC_CEILING and log.by_verb()["SELECT"] <= SYNC_READS, (len(log), log.by_verb())
    assert statuses(runtime, ids) == ["done"] * 8 and batch_failures(caplog) == []
    assert len(fake_wecom.calls("externalcontact/get")) == 8
    assert fake_wecom.calls("user/get") == []  # both members are stored staff
    for n in range(8):
        name, follows = crm(runtime, n)
        assert (name, follows) == in_wecom(wecom, n)
        assert follows == {"zhangsan": {tags["A"], tags["B"]}, "lisi": {tags["D"]} if n % 2 else set()}


def test_one_customer_synced_twice_in_a_batch_ends_with_wecoms_last_word(
        runtime, fake_wecom, wecom, tags, caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two syncs of one customer in one batch, the customer's tags changed in WeCom between their fetches:
    the second write starts from what the first wrote (no duplicate tag row, no retry of the batch). The
    same for a customer the CRM did not have yet (the first write inserts it and its relation)."""
    seed_customers(fake_wecom, 3, followers=("zhangsan",))
    store_customers(runtime, 2, [tags["A"]])
    mark(wecom, "zhangsan", 0, add=[tags["A"], tags["B"]])
    mark(wecom, "zhangsan", 2, add=[tags["A"]])
    real = EFFECTS["sync_customer"]
    fetched: list[str] = []

    def then_retagged(ctx, external_userid):  # type: ignore[no-untyped-def]
        result = real(ctx, external_userid)
        fetched.append(external_userid)
        if external_userid != external(1) and fetched.count(external_userid) == 1:
            # a member retags the customer in WeCom before its second fetch
            n = int(external_userid[-3:])
            mark(wecom, "zhangsan", n, add=[tags["C"]], remove=[tags["A"]])
        return result

    monkeypatch.setitem(EFFECTS, "sync_customer", then_retagged)
    ids = pending_rows(runtime, *syncs(0, 1, 0, 2, 2))
    deliver(ids)
    # one customer's rows: one lane, in order
    assert fetched == [external(0), external(0), external(1), external(2), external(2)]
    assert statuses(runtime, ids) == ["done"] * 5
    assert batch_failures(caplog) == []
    assert crm(runtime, 0) == in_wecom(wecom, 0) == ("客户0", {"zhangsan": {tags["B"], tags["C"]}})
    assert crm(runtime, 1) == in_wecom(wecom, 1) == ("客户1", {"zhangsan": set()})
    assert crm(runtime, 2) == in_wecom(wecom, 2) == ("客户2", {"zhangsan": {tags["C"]}})


def test_a_tagging_and_a_sync_of_one_relation_in_a_batch(runtime, fake_wecom, wecom, tags, caplog) -> None:  # type: ignore[no-untyped-def]
    """A member's mark_tag (B on, A off) and then a profile sync of the same customer in one batch: the sync's
    write reads the tags the mark_tag's write left, not those loaded before it; B keeps who put it on."""
    seed_customers(fake_wecom, 2, followers=("zhangsan",))
    store_customers(runtime, 2, [tags["A"]])
    mark(wecom, "zhangsan", 0, add=[tags["A"]])
    ids = pending_rows(runtime, ("mark_tag", {"userid": "zhangsan", "external_userid": external(0),
                                              "add": [tags["B"]], "remove": [tags["A"]], "actor": "zhangsan"}),
                       *syncs(0, 1))
    deliver(ids)
    assert statuses(runtime, ids) == ["done"] * 3
    assert batch_failures(caplog) == []
    assert [c["body"]["add_tag"] for c in fake_wecom.calls("externalcontact/mark_tag")][-1] == [tags["B"]]
    assert crm(runtime, 0) == in_wecom(wecom, 0) == ("客户0", {"zhangsan": {tags["B"]}})
    with runtime.Session() as s:
        assert s.execute(select(Tag.tag_id, FollowTag.tagged_by).join(Tag, Tag.id == FollowTag.tag_pk).join(
            FollowRelation, FollowRelation.id == FollowTag.follow_id).join(Customer).where(
            Customer.external_userid == external(0))).all() == [(tags["B"], "zhangsan")]


# -- staff the syncs find -------------------------------------------------------------------------------------
def test_only_followers_without_a_staff_row_are_fetched_and_only_once_stored(runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    seed_customers(fake_wecom, 3)
    with runtime.WriteSession.begin() as s:
        s.add(Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"))
    first = pending_rows(runtime, *syncs(0, 1))  # two customers of lisi, whom the CRM has not seen yet
    deliver(first)
    assert statuses(runtime, first) == ["done", "done"]
    assert {c["query"]["userid"] for c in fake_wecom.calls("user/get")} == {"lisi"}
    with runtime.Session() as s:
        assert sorted(s.execute(select(Staff.userid, Staff.name)).all()) == [("lisi", "李四"), ("zhangsan", "张三")]
    fake_wecom.clear_calls()
    ids = pending_rows(runtime, *syncs(2))
    deliver(ids)
    assert statuses(runtime, ids) == ["done"]
    assert len(fake_wecom.calls("externalcontact/get")) == 1
    assert fake_wecom.calls("user/get") == []


# -- a write that fails ---------------------------------------------------------------------------------------
@pytest.fixture
def one_bad_write(monkeypatch):  # type: ignore[no-untyped-def]
    """The write of one customer's profile fails, every time (as a broken row would make it)."""
    from jobs import outbound

    real = outbound.apply_external_contact
    bad = {external(SETTLE_ROWS + 1)}

    def failing(session, corp_id, payload):  # type: ignore[no-untyped-def]
        if payload["external_contact"]["external_userid"] in bad:
            raise RuntimeError("disk full")
        return real(session, corp_id, payload)

    monkeypatch.setattr(outbound, "apply_external_contact", failing)
    return bad


def test_a_write_failing_in_the_second_part_of_a_batch_keeps_only_its_own_row_from_done(
        runtime, fake_wecom, one_bad_write, caplog) -> None:  # type: ignore[no-untyped-def]
    """A batch of more than SETTLE_ROWS syncs whose second-to-last write fails: SQLite settled the first
    SETTLE_ROWS in a transaction of their own and takes the rest one by one; MySQL/MariaDB, which wrote all
    in one, takes all one by one. Either way every other customer is written and done, and the bad row
    goes to its queue (inline: its own deliver_outbox, which fails again and dead-letters it)."""
    count = SETTLE_ROWS + 3
    seed_customers(fake_wecom, count, followers=("zhangsan",))
    with runtime.WriteSession.begin() as s:
        s.add(Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"))
    ids = pending_rows(runtime, *syncs(*range(count)))
    deliver(ids)
    bad = SETTLE_ROWS + 1
    assert statuses(runtime, ids) == ["done"] * bad + ["failed"] + ["done"] * (count - bad - 1)
    with runtime.Session() as s:
        names = dict(s.execute(select(Customer.external_userid, Customer.name)).all())
        assert s.execute(select(DeadLetter.job, DeadLetter.args)).all() == [("deliver_outbox", [ids[bad]])]
    assert names == {external(n): f"客户{n}" for n in range(count) if n != bad}
    taken_again = count - SETTLE_ROWS if runtime.single_writer else count
    assert f"batched outbox writes failed; settling {taken_again} rows one by one" in batch_failures(caplog)


def test_a_write_failing_in_a_small_batch_keeps_only_its_own_row_from_done(
        runtime, fake_wecom, one_bad_write, caplog) -> None:  # type: ignore[no-untyped-def]
    seed_customers(fake_wecom, SETTLE_ROWS + 2, followers=("zhangsan",))
    ids = pending_rows(runtime, *syncs(0, SETTLE_ROWS + 1, 2))
    deliver(ids)
    assert statuses(runtime, ids) == ["done", "failed", "done"]
    with runtime.Session() as s:
        assert sorted(s.scalars(select(Customer.external_userid))) == [external(0), external(2)]


def test_a_big_batch_writes_settle_rows_per_transaction_on_sqlite_and_all_in_one_on_mysql(
        runtime, fake_wecom) -> None:  # type: ignore[no-untyped-def]
    """SQLite has one write lock for the whole database, which a callback's insert and a welcome wait for:
    a batch's writes hold it SETTLE_ROWS rows at a time. MySQL/MariaDB lock rows: one transaction."""
    count = 2 * SETTLE_ROWS + 4
    seed_customers(fake_wecom, count, followers=("zhangsan",))
    with runtime.WriteSession.begin() as s:
        s.add(Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"))
    ids = pending_rows(runtime, *syncs(*range(count)))
    with commits(runtime.engine) as log:
        deliver(ids)
    assert statuses(runtime, ids) == ["done"] * count
    settles = 3 if runtime.single_writer else 1
    assert len(log) == 1 + settles  # the attempts counted up front, then the writes
    with runtime.Session() as s:
        assert sorted(s.scalars(select(Customer.name))) == sorted(f"客户{n}" for n in range(count))


def test_a_tag_deleted_and_a_sync_in_one_batch(runtime, fake_wecom, wecom, tags, caplog) -> None:  # type: ignore[no-untyped-def]
    """An admin's tag deletion (del_corp_tag, which takes the tag off every customer) and a profile sync in
    one batch: the sync's write reads the relation's tags as the deletion left them."""
    seed_customers(fake_wecom, 1, followers=("zhangsan",))
    store_customers(runtime, 1, [tags["A"], tags["B"]])
    mark(wecom, "zhangsan", 0, add=[tags["A"], tags["B"]])
    ids = pending_rows(runtime, ("delete_tags", {"tag_ids": [tags["A"]]}), *syncs(0))
    deliver(ids)
    assert statuses(runtime, ids) == ["done", "done"]
    assert batch_failures(caplog) == []
    assert crm(runtime, 0) == in_wecom(wecom, 0) == ("客户0", {"zhangsan": {tags["B"]}})
    with runtime.Session() as s:
        assert s.scalar(select(Tag.deleted_at.is_not(None)).where(Tag.tag_id == tags["A"]))
