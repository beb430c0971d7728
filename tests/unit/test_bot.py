"""Bot commands typed to the self-built app, end to end: an encrypted app text callback through the sender,
the passive reply decrypted, the rows written and the WeCom calls the fake saw. Each command: a good
call, a bad call and a member reaching past what the admin API would show them.

The team: zhangsan follows 王小明😀 (remark 老客户, remark mobile 13800000000), lisi follows 赵六 (某某科技);
boss is an admin (an API token with role admin names his userid), everyone else is a member.
"""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot_support import ADD, Bot
from models import AuditLog, BotReply, Customer, CustomerEvent, FollowTag, FollowUp, Lead, Plan, Tag
from models.db import utcnow
from models.pool import Pool, default_pool
from pool_support import claim, pooled_customer
from support import CORP_ID, SECRET
from wecom.client import WeComClient

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def world(sender, crypto, runtime, fake_wecom, make_token) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    fake_wecom.seed({"users": [{"corpid": CORP_ID, "userid": "boss", "name": "老板", "department": [1], "status": 1}]})
    assert sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan").status_code == 200
    assert sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi").status_code == 200
    make_token("admin", userid="boss", name="boss")
    with runtime.Session() as s:
        ids = dict(s.execute(select(Customer.external_userid, Customer.id)).all())
    return SimpleNamespace(bot=Bot(sender, crypto), wang=ids["wmCustomer0001"], zhao=ids["wmCustomer0002"],
                           admin=make_token("admin"))


@pytest.fixture
def tag_library(world, client, fake_wecom) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """客户等级: A级, B级 in WeCom, synced in; name -> WeCom tag id."""
    wecom = WeComClient(CORP_ID, SECRET, fake_wecom.api_base)
    group = wecom.post("externalcontact/add_corp_tag", data={
        "group_name": "客户等级", "tag": [{"name": "A级"}, {"name": "B级"}]})["tag_group"]
    assert client.post("/api/v1/tags/sync", headers=world.admin).status_code == 202
    return {t["name"]: t["id"] for t in group["tag"]}


def count(runtime, model: Any) -> int:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


# -- not a command, unknown command ---------------------------------------------------------------------
def test_chat_that_is_not_a_command_is_stored_and_not_answered(world, runtime) -> None:
    assert world.bot.ask("你好，今天客户多吗") is None
    assert world.bot.ask("help") is None  # an English word counts only with its slash
    assert count(runtime, BotReply) == 0


def test_unknown_slash_command_points_to_help(world) -> None:
    assert world.bot.ask("/foo bar") == "没有这个命令：/foo\n发送 /help 查看可用的命令。"
    assert world.bot.ask("/") == "没有这个命令：/\n发送 /help 查看可用的命令。"


# -- /help -----------------------------------------------------------------------------------------------
def test_help_lists_every_command_and_the_callers_scope(world) -> None:
    answer = world.bot.ask("/help")
    for usage in ("/help [命令]", "/客户 <姓名、备注或手机号>", "/跟进 <客户> <跟进内容>", "/标签 <客户> <标签>",
                  "/计划 <时间>", "/今日", "/线索 [公海]"):
        assert usage in answer
    assert answer.endswith("你的身份：成员，只能看到和操作你跟进的客户。")
    assert world.bot.ask("帮助") == answer == world.bot.ask("／HELP")
    assert world.bot.ask("/help 客户") == "查找客户（前 5 个，含跟进人和标签）\n用法：/客户 <姓名、备注或手机号>"


def test_help_for_a_command_that_does_not_exist(world) -> None:
    assert world.bot.ask("/help 不存在") == "没有这个命令：不存在\n用法：/help [命令]"


def test_help_tells_a_member_they_are_not_an_admin(world) -> None:
    assert world.bot.ask("/help", userid="lisi").endswith("你的身份：成员，只能看到和操作你跟进的客户。")
    assert world.bot.ask("/help", userid="boss").endswith("你的身份：管理员，可以看到全企业的客户。")


# -- /客户 -----------------------------------------------------------------------------------------------
def test_customer_search_by_name_shows_follower_and_masked_mobile(world) -> None:
    assert world.bot.ask("/客户 王小明") == (
        f"找到 1 个客户：\n#{world.wang} 王小明😀（老客户）\n  跟进人：张三\n  手机：138****0000")
    assert world.bot.ask("客户 老客户") == world.bot.ask("/客户 王小明")  # keyword without slash, remark matches


def test_customer_search_by_mobile_matches_remark_mobiles(world, client, make_token) -> None:
    card = f"找到 1 个客户：\n#{world.wang} 王小明😀（老客户）\n  跟进人：张三\n  手机："
    assert world.bot.ask("/客户 138 0000 0000") == card + "138****0000"
    assert world.bot.ask("/客户 +86-13800000000") == card + "138****0000"
    assert world.bot.ask("/客户 13800000000", userid="boss") == card + "13800000000"  # admins see it whole
    assert world.bot.ask("/客户 13900000000") == "没有找到和「13900000000」匹配的客户。"
    settings = client.patch("/api/v1/settings", json={"mask_mobile_for_members": False},
                            headers=make_token("super_admin"))
    assert settings.status_code == 200  # 电话号码隐藏 off: members see numbers whole too
    assert world.bot.ask("/客户 13800000000") == card + "13800000000"


def test_customer_search_shows_tags_and_company(world, tag_library) -> None:
    world.bot.ask("/标签 王小明 A级")
    assert world.bot.ask("/客户 王小明").splitlines()[3] == "  标签：A级"
    assert world.bot.ask("/客户 某某", userid="lisi") == (
        f"找到 1 个客户：\n#{world.zhao} 赵六\n  企业：某某科技\n  跟进人：李四")


def test_customer_search_without_a_name(world) -> None:
    assert world.bot.ask("/客户") == "请写上要找的客户。\n用法：/客户 <姓名、备注或手机号>"
    assert world.bot.ask("/客户 a]]>b") == "没有找到和「a]]>b」匹配的客户。"  # CDATA-safe


def test_a_member_does_not_find_a_customer_someone_else_follows(world) -> None:
    assert world.bot.ask("/客户 赵六") == "没有找到和「赵六」匹配的客户。"
    assert world.bot.ask("/客户 赵六", userid="lisi").startswith(f"找到 1 个客户：\n#{world.zhao} 赵六")
    assert world.bot.ask("/客户 赵六", userid="boss").startswith(f"找到 1 个客户：\n#{world.zhao} 赵六")


# -- /跟进 -----------------------------------------------------------------------------------------------
def test_follow_up_is_recorded_on_the_customer(world, runtime) -> None:
    before = dt.datetime.now(dt.UTC)
    answer = world.bot.ask("/跟进 王小明 约了周五 下午见面")
    assert answer == f"已记录对「王小明😀」(#{world.wang}) 的跟进：约了周五 下午见面"
    with runtime.Session() as s:
        [row] = s.scalars(select(FollowUp)).all()
        assert (row.customer_id, row.userid, row.text, row.corp_id) == (world.wang, "zhangsan", "约了周五 下午见面",
                                                                        CORP_ID)
        assert row.at >= before - dt.timedelta(seconds=1)
        event = s.scalar(select(CustomerEvent).where(CustomerEvent.kind == "follow_up"))
        assert (event.customer_id, event.userid, event.detail) == (world.wang, "zhangsan",
                                                                   {"text": "约了周五 下午见面", "type": "笔记",
                                                                    "follow_up_id": row.id})
        assert (row.via, s.get(Customer, world.wang).last_followed_at) == ("bot", row.at)
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "customer.follow_up")) == "bot:zhangsan"
    assert world.bot.ask(f"/跟进 #{world.wang} 第二次") == f"已记录对「王小明😀」(#{world.wang}) 的跟进：第二次"
    assert count(runtime, FollowUp) == 2


@pytest.mark.parametrize(("text", "answer"), [
    ("/跟进 王小明", "请写上客户和跟进内容。\n用法：/跟进 <客户> <跟进内容>"),
    ("/跟进", "请写上客户和跟进内容。\n用法：/跟进 <客户> <跟进内容>"),
    ("/跟进 王小明 " + "长" * 101, "跟进内容最多 100 个字，现在有 101 个。\n用法：/跟进 <客户> <跟进内容>"),
    ("/跟进 王大明 聊过", "没有找到客户「王大明」。可以先用 /客户 查找。"),
])
def test_follow_up_with_bad_arguments_records_nothing(world, runtime, text: str, answer: str) -> None:
    assert world.bot.ask(text) == answer
    assert count(runtime, FollowUp) == 0


def test_a_member_cannot_follow_up_someone_elses_customer(world, runtime) -> None:
    assert world.bot.ask("/跟进 赵六 聊过") == "没有找到客户「赵六」。可以先用 /客户 查找。"
    assert world.bot.ask(f"/跟进 #{world.zhao} 聊过") == f"没有找到客户 #{world.zhao}。"
    assert count(runtime, FollowUp) == 0
    assert world.bot.ask("/跟进 赵六 聊过", userid="boss").startswith("已记录对「赵六」")


def test_a_name_two_customers_share_asks_for_the_number(world, sender, fake_wecom, runtime) -> None:
    fake_wecom.seed({"external_contacts": [{"corpid": CORP_ID, "external_contact": {
        "external_userid": "wmCustomer0003", "name": "王小明😀", "type": 1},
        "follow_user": [{"userid": "zhangsan", "remark": "", "createtime": 1732000200, "tags": []}]}]})
    sender.post(ADD, ExternalUserID="wmCustomer0003", UserID="zhangsan")
    with runtime.Session() as s:
        other = s.scalar(select(Customer.id).where(Customer.external_userid == "wmCustomer0003"))
    assert world.bot.ask("/跟进 王小明😀 聊过") == (
        f"「王小明😀」对应多个客户：#{other} 王小明😀、#{world.wang} 王小明😀\n请用编号指定，例如 #{other}。")
    assert count(runtime, FollowUp) == 0


# -- /标签 -----------------------------------------------------------------------------------------------
def test_tag_goes_through_mark_tag(world, runtime, fake_wecom, tag_library) -> None:
    assert world.bot.ask("/标签 王小明 A级") == f"已提交：给「王小明😀」(#{world.wang}) 打上标签「A级」。"
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    assert call["body"] == {"userid": "zhangsan", "external_userid": "wmCustomer0001",
                            "add_tag": [tag_library["A级"]], "remove_tag": []}
    with runtime.Session() as s:
        assert s.execute(select(Tag.name, FollowTag.tagged_by).join(FollowTag, FollowTag.tag_pk == Tag.id)).all() == [
            ("A级", "zhangsan")]
    assert world.bot.ask("/标签 王小明 客户等级/A级") == "「王小明😀」已经有标签「A级」了。"
    assert len(fake_wecom.calls("externalcontact/mark_tag")) == 1


def test_an_admin_tags_on_the_owners_relation(world, fake_wecom, tag_library) -> None:
    assert world.bot.ask("/标签 赵六 B级", userid="boss").startswith("已提交")
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    assert (call["body"]["userid"], call["body"]["add_tag"]) == ("lisi", [tag_library["B级"]])


@pytest.mark.parametrize(("text", "answer"), [
    ("/标签 王小明 C级", "没有标签「C级」。\n现有标签：A级、B级"),
    ("/标签 王小明", "请写上客户和一个标签。\n用法：/标签 <客户> <标签>"),
    ("/标签 王小明 A级 B级", "请写上客户和一个标签。\n用法：/标签 <客户> <标签>"),
])
def test_tag_with_bad_arguments_calls_nothing(world, fake_wecom, tag_library, text: str, answer: str) -> None:
    assert world.bot.ask(text) == answer
    assert fake_wecom.calls("externalcontact/mark_tag") == []


def test_a_member_cannot_tag_someone_elses_customer(world, fake_wecom, runtime, tag_library) -> None:
    assert world.bot.ask("/标签 赵六 A级") == "没有找到客户「赵六」。可以先用 /客户 查找。"
    assert fake_wecom.calls("externalcontact/mark_tag") == []
    assert count(runtime, FollowTag) == 0


# -- /计划 -----------------------------------------------------------------------------------------------
def test_plan_is_stored_in_utc_with_its_customer(world, runtime) -> None:
    tomorrow = dt.datetime.now(TZ).date() + dt.timedelta(days=1)
    answer = world.bot.ask("/计划 明天下午3点 @王小明 回访报价")
    due = dt.datetime.combine(tomorrow, dt.time(15), TZ)
    assert answer.startswith(f"好的，{due.month}月{due.day}日 周")
    assert answer.endswith("15:00 提醒你：回访报价（客户：王小明😀）")
    with runtime.Session() as s:
        [plan] = s.scalars(select(Plan)).all()
        assert (plan.userid, plan.customer_id, plan.text, plan.due_at, plan.reminded_at) == (
            "zhangsan", world.wang, "回访报价", due.astimezone(dt.UTC), None)
    assert world.bot.ask("/计划 2099-12-01 续约").startswith("好的，2099年12月1日 周二 09:00 提醒你：续约")


@pytest.mark.parametrize(("text", "answer"), [
    ("/计划 随便 写写", "看不懂这个时间。"),
    ("/计划 2020-01-01 复盘", "这个时间已经过去了：2020-01-01 09:00。"),
    ("/计划 明天下午3点", "请写上计划的内容。"),
    ("/计划", "请写上时间和内容。"),
])
def test_plan_with_bad_arguments_stores_nothing(world, runtime, text: str, answer: str) -> None:
    assert world.bot.ask(text) == answer + "\n用法：/计划 <时间> [@客户] <内容>（时间如 明天下午3点、周五 10:00、2026-12-01）"
    assert count(runtime, Plan) == 0


def test_a_member_cannot_plan_on_someone_elses_customer(world, runtime) -> None:
    assert world.bot.ask("/计划 明天 @赵六 拜访") == "没有找到客户「赵六」。可以先用 /客户 查找。"
    assert count(runtime, Plan) == 0


# -- /今日 -----------------------------------------------------------------------------------------------
def _add_today(sender, fake_wecom, external_userid: str, name: str, userid: str) -> None:  # type: ignore[no-untyped-def]
    fake_wecom.seed({"external_contacts": [{"corpid": CORP_ID, "external_contact": {
        "external_userid": external_userid, "name": name, "type": 1},
        "follow_user": [{"userid": userid, "remark": "", "createtime": int(time.time()), "tags": []}]}]})
    assert sender.post(ADD, ExternalUserID=external_userid, UserID=userid).status_code == 200


def _plan(runtime, userid: str, text: str, due: dt.datetime, customer_id: int | None = None) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        from models import App

        app_pk = s.scalar(select(App.id))
        s.add(Plan(corp_id=CORP_ID, app_pk=app_pk, userid=userid, text=text, due_at=due, customer_id=customer_id))


@pytest.fixture
def busy_day(world, sender, fake_wecom, runtime) -> dt.datetime:  # type: ignore[no-untyped-def]
    """Today: zhangsan and lisi each got a new customer; each has plans today, one about a customer; a plan of
    zhangsan's tomorrow. Returns the start of today (Shanghai)."""
    _add_today(sender, fake_wecom, "wmNewToday01", "新客甲", "zhangsan")
    _add_today(sender, fake_wecom, "wmNewToday02", "新客乙", "lisi")
    start = dt.datetime.combine(dt.datetime.now(TZ).date(), dt.time(), TZ)
    _plan(runtime, "zhangsan", "回访", start + dt.timedelta(hours=16), world.wang)
    _plan(runtime, "zhangsan", "周会", start + dt.timedelta(hours=9, minutes=30))
    _plan(runtime, "zhangsan", "明天的事", start + dt.timedelta(days=1, hours=9))
    _plan(runtime, "lisi", "李四的计划", start + dt.timedelta(hours=10))
    return start


def test_today_lists_new_customers_follow_ups_and_plans(world, busy_day) -> None:
    assert world.bot.ask("/今日") == (f"今天（{busy_day:%m月%d日}）\n新客户：1 个：新客甲\n"
                                     "待跟进：1 个\n  16:00 回访（王小明😀）\n计划：1 个\n  09:30 周会")


def test_today_takes_no_arguments(world) -> None:
    assert world.bot.ask("/今日 明天") == "这个命令不需要参数：明天\n用法：/今日"


def test_today_shows_a_member_only_their_own(world, busy_day) -> None:
    member = world.bot.ask("/今日", userid="lisi")
    assert member == f"今天（{busy_day:%m月%d日}）\n新客户：1 个：新客乙\n待跟进：0 个\n计划：1 个\n  10:00 李四的计划"
    admin = world.bot.ask("/今日", userid="boss")
    assert admin == f"今天（{busy_day:%m月%d日}）\n新客户：2 个：新客乙、新客甲\n待跟进：0 个\n计划：0 个"


# -- /线索 -----------------------------------------------------------------------------------------------
@pytest.fixture
def leads(world, runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        s.add_all([
            Lead(corp_id=CORP_ID, name="线索甲", source="展会", owner_userid="zhangsan"),
            Lead(corp_id=CORP_ID, name="线索乙", owner_userid="zhangsan", status="following"),
            Lead(corp_id=CORP_ID, name="已转客户", owner_userid="zhangsan", status="converted"),
            Lead(corp_id=CORP_ID, name="李四的线索", owner_userid="lisi"),
            Lead(corp_id=CORP_ID, name="公海一", owner_userid=None),
            Lead(corp_id=CORP_ID, name="公海二", owner_userid=None, status="discarded"),
            Lead(corp_id="wwothercorp00001", name="别的企业", owner_userid="zhangsan"),
        ])


def test_leads_lists_my_open_leads(world, leads) -> None:
    assert world.bot.ask("/线索") == "你负责、还没转成客户的线索：2 条\n  线索乙\n  线索甲（展会）"
    assert world.bot.ask("/线索", userid="wangwu") == "你负责、还没转成客户的线索：没有。"


def test_leads_with_an_unknown_argument(world, leads) -> None:
    assert world.bot.ask("/线索 全部") == "看不懂「全部」。\n用法：/线索 [公海]"


def test_a_member_sees_the_pool_while_their_department_sees_the_default_pool(world, leads, runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        pool = default_pool(s, CORP_ID)
        pool.departments = [2]  # zhangsan is in department 1 only
    assert world.bot.ask("/线索 公海") == "你所在的部门看不到默认公海。"
    assert world.bot.ask("/线索 公海", userid="boss") == "公海里没人负责的线索：1 条\n  公海一"
    with runtime.WriteSession.begin() as s:
        default_pool(s, CORP_ID).departments = [1]
        hidden = Pool(corp_id=CORP_ID, name="二部公海", departments=[2])
        s.add(hidden)
        s.flush()
        s.add(Customer(corp_id=CORP_ID, external_userid="wmhidden", name="二部客户", pool_id=hidden.id,
                       pooled_at=utcnow()))
    assert world.bot.ask("/线索 公海") == "公海里没人负责的线索：1 条\n  公海一"  # 二部公海 is not zhangsan's
    assert world.bot.ask("/线索 公海", userid="boss").endswith("公海里的客户：1 个（二部公海 1），在管理后台领取或分配")
    assert world.bot.ask("/线索", userid="lisi") == "你负责、还没转成客户的线索：1 条\n  李四的线索"


def test_the_pool_shows_its_customers_too(world, leads, runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        pool = default_pool(s, CORP_ID)
        s.flush()
        s.add_all([Customer(corp_id=CORP_ID, external_userid=f"wmpool{i}", name=f"公海客户{i}", pool_id=pool.id,
                            pooled_at=utcnow(), deleted_at=utcnow() if i == 2 else None) for i in range(3)])
    assert world.bot.ask("/线索 公海", userid="boss") == (
        "公海里没人负责的线索：1 条\n  公海一\n公海里的客户：2 个（默认公海 2），在管理后台领取或分配")
    assert world.bot.ask("/线索", userid="lisi") == "你负责、还没转成客户的线索：1 条\n  李四的线索"


# -- a customer claimed from the public pool ----------------------------------------------------------
def test_a_member_finds_and_acts_on_the_customer_they_claimed_from_the_pool(world, client, runtime,  # type: ignore[no-untyped-def]
                                                                            make_token, fake_wecom,
                                                                            tag_library) -> None:
    """A claim makes zhangsan the owner (跟进人) with no WeCom friendship: every command finds the customer
    for him, as GET /customers does; lisi, who neither follows nor owns it, still does not."""
    pooled = pooled_customer(runtime, "wmPooled0001", "公海客户")
    assert world.bot.ask("/客户 公海客户") == "没有找到和「公海客户」匹配的客户。"  # in the pool: nobody's yet
    claim(client, make_token("member", userid="zhangsan"), pooled)
    assert world.bot.ask("/客户 公海客户") == f"找到 1 个客户：\n#{pooled} 公海客户\n  跟进人：张三"
    assert world.bot.ask(f"/跟进 #{pooled} 领取后第一次联系") == (
        f"已记录对「公海客户」(#{pooled}) 的跟进：领取后第一次联系")
    assert world.bot.ask("/计划 2099-12-01 @公海客户 回访").endswith("提醒你：回访（客户：公海客户）")
    # WeCom tags sit on a friendship, which a claim does not make: said plainly, nothing sent
    assert world.bot.ask("/标签 公海客户 A级") == "「公海客户」已不是你的企业微信好友，不能打标签。"
    assert fake_wecom.calls("externalcontact/mark_tag") == []

    assert world.bot.ask("/客户 公海客户", userid="lisi") == "没有找到和「公海客户」匹配的客户。"
    assert world.bot.ask(f"/跟进 #{pooled} 聊过", userid="lisi") == f"没有找到客户 #{pooled}。"
    assert world.bot.ask("/计划 2099-12-01 @公海客户 拜访", userid="lisi") == (
        "没有找到客户「公海客户」。可以先用 /客户 查找。")
    with runtime.Session() as s:
        assert s.execute(select(FollowUp.customer_id, FollowUp.userid)).all() == [(pooled, "zhangsan")]
        assert s.execute(select(Plan.customer_id, Plan.userid)).all() == [(pooled, "zhangsan")]
