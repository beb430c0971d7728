"""GET /api/v1/messages: conversation search over kf and app messages, its filters, paging, the member's
view (their own messages, their kf sessions, their customers) and the corp a token is limited to."""

from __future__ import annotations

import pytest

from models import Staff
from models.conversation import MessageOrigin
from moderation_support import World, local
from pool_support import claim, pooled_customer
from support import CORP_ID
from web.auth import create_token

C, S, B = MessageOrigin.customer, MessageOrigin.servicer, MessageOrigin.bot


@pytest.fixture
def chats(runtime) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """wmFollowed (followed by zhangsan) talks to lisi on wkShop01; wmGuest talks to zhangsan on wkShop02;
    wmOther talks to lisi; zhangsan and lisi each wrote to the app; another corp has a message too."""
    w = World(runtime)
    customer_id = w.customer("wmFollowed", "王小明", follower="zhangsan")
    followed = w.session("lisi", external_userid="wmFollowed", open_kfid="wkShop01")
    guest = w.session("zhangsan", external_userid="wmGuest", open_kfid="wkShop02")
    other = w.session("lisi", external_userid="wmOther", open_kfid="wkShop01")
    ids = {
        "f1": w.say(followed, C, local("2026-11-18 10:00"), "100%满意吗"),
        "f2": w.say(followed, S, local("2026-11-18 10:01"), "满意，谢谢"),
        "g1": w.say(guest, C, local("2026-11-19 10:00"), "退货怎么办"),
        "g2": w.say(guest, B, local("2026-11-19 10:00"), "七天无理由退货"),
        "o1": w.say(other, C, local("2026-11-20 10:00"), "100元能买吗"),
        "a1": w.app_message("zhangsan", local("2026-11-20 11:00"), "/今日"),
        "a2": w.app_message("lisi", local("2026-11-20 12:00"), "a_b 测试"),
        "x1": w.app_message("zhangsan", local("2026-11-20 13:00"), "别的企业", corp_id="wwothercorp00001"),
    }
    return {"ids": ids, "customer_id": customer_id, "followed": followed.session_id}


def found(client, headers, query: str = "") -> list[int]:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/messages?{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return [m["id"] for m in r.get_json()["items"]]


def names(chats, *keys: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [chats["ids"][k] for k in keys]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["x1", "a2", "a1", "o1", "g2", "g1", "f2", "f1"]),  # newest first
    ("customer=wmFollowed", ["f2", "f1"]),
    ("staff=zhangsan", ["x1", "a1", "g2", "g1"]),  # wrote it, or received the kf session
    ("staff=lisi", ["a2", "o1", "f2", "f1"]),
    ("open_kfid=wkShop01", ["o1", "f2", "f1"]),
    ("source=app", ["x1", "a2", "a1"]),
    ("q=100%25", ["f1"]),  # % is literal
    ("q=a_b", ["a2"]),  # so is _
    ("q=满意", ["f2", "f1"]),
    ("since=2026-11-19T02:00:00Z&until=2026-11-20T03:00:00Z", ["o1", "g2", "g1"]),  # corp-local 10:00 = 02:00 UTC
])
def test_filters(client, make_token, chats, query: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert found(client, make_token("admin"), query) == names(chats, *expected)


def test_by_customer_id_and_by_session(client, make_token, chats) -> None:  # type: ignore[no-untyped-def]
    admin = make_token("admin")
    assert found(client, admin, f"customer={chats['customer_id']}") == names(chats, "f2", "f1")
    assert found(client, admin, f"session={chats['followed']}") == names(chats, "f2", "f1")
    assert found(client, admin, "session=nosuchsession") == []


def test_paging(client, make_token, chats) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/messages?page=2&page_size=3", headers=make_token("admin")).get_json()
    assert (r["total"], r["page"], [m["id"] for m in r["items"]]) == (8, 2, names(chats, "o1", "g2", "g1"))
    assert r["items"][0] == {"id": chats["ids"]["o1"], "source": "kf", "msgid": r["items"][0]["msgid"],
                             "open_kfid": "wkShop01", "external_userid": "wmOther", "userid": None,
                             "origin": "customer", "msgtype": "text", "content": "100元能买吗",
                             "send_time": "2026-11-20T02:00:00+00:00"}


def test_a_member_sees_their_own_conversations_and_their_customers(client, make_token, chats) -> None:  # type: ignore[no-untyped-def]
    zhangsan = make_token("member", userid="zhangsan")
    # x1 is another corp's zhangsan: a member token is bound to its own corp (issue 19)
    assert found(client, zhangsan) == names(chats, "a1", "g2", "g1", "f2", "f1")
    assert found(client, zhangsan, "staff=lisi") == names(chats, "f2", "f1")  # lisi's, with zhangsan's customer
    lisi = make_token("member", userid="lisi")
    assert found(client, lisi) == names(chats, "a2", "o1", "f2", "f1")
    assert found(client, lisi, "customer=wmGuest") == []


def test_a_member_finds_the_conversations_of_a_customer_they_claimed(client, runtime, make_token, chats) -> None:  # type: ignore[no-untyped-def]
    """A claim from the public pool makes zhangsan the owner (跟进人) with no WeCom friendship: the customer's
    conversations are his to search, as the customer is in his GET /customers; lisi, who neither follows,
    owns nor served it, still finds none of them."""
    world = World(runtime)
    pooled = pooled_customer(runtime, "wmPooled", "公海客户")
    asked = world.say(world.session(None, external_userid="wmPooled"), C, local("2026-11-21 10:00"), "还在吗")
    zhangsan, lisi = make_token("member", userid="zhangsan"), make_token("member", userid="lisi")
    with runtime.WriteSession.begin() as s:  # a claimer must be a member of the corp
        s.add(Staff(corp_id=CORP_ID, userid="zhangsan", name="张三"))
    assert found(client, zhangsan, "customer=wmPooled") == []  # in the pool: nobody's yet
    claim(client, zhangsan, pooled)
    assert found(client, zhangsan, "customer=wmPooled") == [asked]
    assert found(client, zhangsan, f"customer={pooled}") == [asked]
    assert found(client, zhangsan, "q=还在吗") == [asked]
    assert found(client, lisi, "customer=wmPooled") == found(client, lisi, f"customer={pooled}") == []
    assert asked not in found(client, lisi)


def test_a_corp_token_sees_its_corp_only(client, runtime, chats) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        other = {"Authorization": "Bearer " + create_token(s, "o", "admin", corp_id="wwothercorp00001")}
    assert found(client, other) == names(chats, "x1")


@pytest.mark.parametrize("query", [
    "since=yesterday", "since=2026-11-21T00:00:00Z&until=2026-11-20T00:00:00Z", "source=sms", "page_size=0",
    "page_size=201", "page=x", "q=" + "字" * 101,
])
def test_bad_queries_get_400(client, make_token, chats, query: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/messages?{query}", headers=make_token("admin"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"


def test_a_token_is_needed(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/messages").status_code == 401
