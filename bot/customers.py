"""Customer commands: /客户 (search), /跟进 (a follow-up record), /标签 (tag through mark_tag)."""

from __future__ import annotations

from sqlalchemy import select

from bot.commands import BotContext, CommandError, UsageError, command
from bot.parse import head_and_rest
from bot.scope import contact_app_pk, masks_mobiles, resolve_customer, search_customers, staff_names
from models import Customer, FollowRelation, FollowStatus, FollowTag, Tag, TagGroup
from models.followup import FOLLOW_UP_MAX_CHARS, record_follow_up
from models.auth import record_audit
from rules.privacy import mask_mobile

SEARCH_LIMIT = 5
TAG_NAMES_SHOWN = 20


def _active(customer: Customer) -> list[FollowRelation]:
    return [f for f in customer.follows if f.status == FollowStatus.active.value]


def _followers(customer: Customer) -> list[str]:
    """The customer's 跟进人 as the admin API shows them: the owner (a claim from the public pool makes one
    without a WeCom friendship) first, then every member still following."""
    owner = [customer.owner_userid] if customer.owner_userid else []
    return list(dict.fromkeys(owner + [f.userid for f in _active(customer)]))


def _card(ctx: BotContext, customer: Customer, names: dict[str, str], tags: dict[int, list[str]],
          mask: bool) -> str:
    follows = _active(customer)
    mine = next((f for f in customer.follows if f.userid == ctx.userid and f.remark), None)
    remark = (mine or next((f for f in follows if f.remark), None))
    lines = [f"#{customer.id} {customer.name or customer.external_userid}"
             + (f"（{remark.remark}）" if remark else "")]
    if customer.corp_name:
        lines.append(f"  企业：{customer.corp_name}")
    lines.append("  跟进人：" + ("、".join(names.get(u, u) for u in _followers(customer)) or "无"))
    tag_names = sorted({name for f in follows for name in tags.get(f.id, [])})
    if tag_names:
        lines.append("  标签：" + "、".join(tag_names))
    mobiles = list(dict.fromkeys([customer.mobile] + [m for f in follows for m in f.remark_mobiles or []]))
    mobiles = [mask_mobile(m) if mask else m for m in mobiles if m]
    if mobiles:
        lines.append("  手机：" + "、".join(mobiles))
    return "\n".join(lines)


def _follow_tags(ctx: BotContext, follow_ids: list[int]) -> dict[int, list[str]]:
    if not follow_ids:
        return {}
    rows = ctx.session.execute(select(FollowTag.follow_id, Tag.name).join(Tag, FollowTag.tag_pk == Tag.id).where(
        FollowTag.follow_id.in_(follow_ids), Tag.deleted_at.is_(None)))
    out: dict[int, list[str]] = {}
    for follow_id, name in rows:
        out.setdefault(follow_id, []).append(name)
    return out


@command("客户", usage="/客户 <姓名、备注或手机号>", summary="查找客户（前 5 个，含跟进人和标签）")
def find_customer(ctx: BotContext, args: str) -> str:
    if not args:
        raise UsageError("请写上要找的客户。")
    total, customers = search_customers(ctx, args, SEARCH_LIMIT)
    if not customers:
        return f"没有找到和「{args}」匹配的客户。"
    follows = [f for c in customers for f in _active(c)]
    names = staff_names(ctx.session, ctx.corp_id, {u for c in customers for u in _followers(c)})
    tags = _follow_tags(ctx, [f.id for f in follows])
    mask = masks_mobiles(ctx)
    head = f"找到 {total} 个客户" + (f"，显示最新的 {SEARCH_LIMIT} 个" if total > SEARCH_LIMIT else "") + "："
    return "\n".join([head] + [_card(ctx, c, names, tags, mask) for c in customers])


@command("跟进", usage="/跟进 <客户> <跟进内容>", summary="给客户记一条跟进记录")
def add_follow_up(ctx: BotContext, args: str) -> str:
    ref, text = head_and_rest(args)
    if not ref or not text:
        raise UsageError("请写上客户和跟进内容。")
    if len(text) > FOLLOW_UP_MAX_CHARS:
        raise UsageError(f"跟进内容最多 {FOLLOW_UP_MAX_CHARS} 个字，现在有 {len(text)} 个。")
    customer = resolve_customer(ctx, ref)
    record_follow_up(ctx.session, customer, ctx.userid, text, at=ctx.now, via="bot", source=ctx.source,
                     actor=f"bot:{ctx.actor}", inbox_id=ctx.inbox_id)
    from handlers.smart_tags import on_write  # at call time: handlers import the bot

    on_write(ctx.session, ctx.corp_id, "follow_up", [customer.id])
    return f"已记录对「{customer.name}」(#{customer.id}) 的跟进：{text}"


def _find_tag(ctx: BotContext, name: str) -> Tag:
    """A live corp tag by name, or `分组/标签` when two groups hold a tag of that name."""
    group_name, _, tag_name = name.rpartition("/") if "/" in name else ("", "", name)
    from handlers.tags import is_pending  # at call time: handlers import the bot, not the other way round

    query = select(Tag).join(TagGroup).where(Tag.corp_id == ctx.corp_id, Tag.name == tag_name,
                                             Tag.deleted_at.is_(None))
    if group_name:
        query = query.where(TagGroup.name == group_name)
    tags = [t for t in ctx.session.scalars(query) if not is_pending(t.tag_id)]
    if len(tags) == 1:
        return tags[0]
    if tags:
        choices = "、".join(f"{t.group.name}/{t.name}" for t in tags)
        raise CommandError(f"标签「{name}」在多个分组里：{choices}\n请写成 分组/标签。")
    known = ctx.session.scalars(select(Tag.name).where(Tag.corp_id == ctx.corp_id, Tag.deleted_at.is_(None))
                                .order_by(Tag.name).limit(TAG_NAMES_SHOWN)).all()
    hint = f"现有标签：{'、'.join(known)}" if known else "企业还没有客户标签。"
    raise CommandError(f"没有标签「{name}」。\n{hint}")


@command("标签", usage="/标签 <客户> <标签>", summary="给客户打一个企业标签")
def tag_customer(ctx: BotContext, args: str) -> str:
    """Tags the typer's own follow relation (WeCom tags sit on a member's relation); an admin who does not
    follow the customer tags the owner's (跟进人) relation. The WeCom call is the `mark_tag` outbox effect,
    the same path as the admin API, so the answer says the tagging was sent, not that WeCom took it."""
    ref, tag_name = head_and_rest(args)
    tag_name, extra = head_and_rest(tag_name)
    if not ref or not tag_name or extra:
        raise UsageError("请写上客户和一个标签。")
    customer = resolve_customer(ctx, ref)
    tag = _find_tag(ctx, tag_name)
    follows = _active(customer)
    follow = next((f for f in follows if f.userid == ctx.userid), None)
    if follow is None and not ctx.is_member:
        follow = next((f for f in follows if f.userid == customer.owner_userid), follows[0] if follows else None)
    if follow is None:
        raise CommandError(f"「{customer.name}」已不是你的企业微信好友，不能打标签。" if ctx.is_member
                           else f"「{customer.name}」没有正在跟进的成员，不能打标签。")
    already = ctx.session.scalar(select(FollowTag.id).where(FollowTag.follow_id == follow.id,
                                                            FollowTag.tag_pk == tag.id))
    if already is not None:
        return f"「{customer.name}」已经有标签「{tag.name}」了。"
    ctx.outbox("mark_tag", {"app_pk": contact_app_pk(ctx.session, ctx.corp_id), "userid": follow.userid,
                            "external_userid": customer.external_userid, "add": [tag.tag_id], "remove": [],
                            "actor": ctx.actor}, key=f"mark_tag:bot:{ctx.source}")
    record_audit(ctx.session, f"bot:{ctx.actor}", "customer.tag", f"customer:{customer.id}", corp_id=ctx.corp_id,
                 userid=follow.userid, add=[tag.id])
    return f"已提交：给「{customer.name}」(#{customer.id}) 打上标签「{tag.name}」。"
