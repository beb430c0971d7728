"""The staff member's own day: /计划 (a plan with a reminder), /今日 (what today holds), /线索 (their leads).

Plans are personal: everyone, admins included, sees only their own. Days are the corp's local days
(`ctx.now`'s zone); the DB holds UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.commands import BotContext, CommandError, UsageError, command, require_no_args
from bot.dates import DateError, describe, parse_when
from bot.parse import head_and_rest
from bot.scope import resolve_customer, visible_customers
from models import Customer, FollowRelation, Lead, Plan
from models.lead import OPEN_LEAD_STATUSES, unassigned_leads
from models.pool import Pool, sees
from models.plans import PLAN_MAX_CHARS, When, create_plan

LIST_LIMIT = 5
CUSTOMER_MARKS = ("@", "＠")


@command("计划", usage="/计划 <时间> [@客户] <内容>（时间如 明天下午3点、周五 10:00、2026-12-01）",
         summary="建一个计划，到时间提醒你")
def add_plan(ctx: BotContext, args: str) -> str:
    if not args:
        raise UsageError("请写上时间和内容。")
    try:
        when, rest = parse_when(args, ctx.now)
    except DateError as exc:
        raise UsageError(f"{exc}。") from None
    customer = None
    if rest.startswith(CUSTOMER_MARKS):
        ref, rest = head_and_rest(rest[1:])
        customer = resolve_customer(ctx, ref)
    if not rest:
        raise UsageError("请写上计划的内容。")
    if len(rest) > PLAN_MAX_CHARS:
        raise UsageError(f"计划内容最多 {PLAN_MAX_CHARS} 个字。")
    when_utc = when.astimezone(dt.UTC)
    create_plan(ctx.session, corp_id=ctx.corp_id, app_pk=ctx.app_pk, userid=ctx.userid, text=rest,
                when=When(when_utc), remind_at=when_utc, customer_id=customer.id if customer else None,
                actor=f"bot:{ctx.actor}", inbox_id=ctx.inbox_id)
    about = f"（客户：{customer.name}）" if customer else ""
    return f"好的，{describe(when, ctx.now)} 提醒你：{rest}{about}"


def _today(ctx: BotContext) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(ctx.now.date(), dt.time(), ctx.now.tzinfo)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def _plan_line(ctx: BotContext, plan: Plan, names: dict[int, str]) -> str:
    about = f"（{names[plan.customer_id]}）" if plan.customer_id in names else ""
    done = "（已完成）" if plan.done_at else "（已提醒）" if plan.reminded_at else ""
    at = "全天" if plan.all_day else f"{plan.starts_at.astimezone(ctx.now.tzinfo):%H:%M}"
    return f"  {at} {plan.text}{about}{done}"


@command("今日", usage="/今日", summary="今天的新客户、待跟进和计划")
def today(ctx: BotContext, args: str) -> str:
    require_no_args(args)
    start, end = _today(ctx)
    added = select(FollowRelation.customer_id).where(FollowRelation.corp_id == ctx.corp_id,
                                                     FollowRelation.added_at >= start, FollowRelation.added_at < end)
    if ctx.is_member:
        added = added.where(FollowRelation.userid == ctx.userid)
    new = visible_customers(ctx).where(Customer.id.in_(added))
    new_count = ctx.session.scalar(select(func.count()).select_from(new.subquery())) or 0
    new_names = ctx.session.scalars(new.with_only_columns(Customer.name).order_by(Customer.id.desc())
                                    .limit(LIST_LIMIT)).all()
    plans = list(ctx.session.scalars(select(Plan).where(
        Plan.corp_id == ctx.corp_id, Plan.userid == ctx.userid, Plan.deleted_at.is_(None), Plan.starts_at >= start,
        Plan.starts_at < end).order_by(Plan.starts_at, Plan.id)))
    names = dict(ctx.session.execute(select(Customer.id, Customer.name).where(
        Customer.id.in_({p.customer_id for p in plans if p.customer_id}))).all()) if plans else {}
    follow_ups = [p for p in plans if p.customer_id]
    own = [p for p in plans if not p.customer_id]
    lines = [f"今天（{ctx.now:%m月%d日}）",
             f"新客户：{new_count} 个" + ("：" + "、".join(new_names) if new_names else ""),
             f"待跟进：{len(follow_ups)} 个"]
    lines += [_plan_line(ctx, p, names) for p in follow_ups]
    lines.append(f"计划：{len(own)} 个")
    lines += [_plan_line(ctx, p, names) for p in own]
    return "\n".join(lines)


@command("线索", usage="/线索 [公海]", summary="你负责、还没转成客户的线索；加「公海」看默认公海里没人负责的")
def leads(ctx: BotContext, args: str) -> str:
    if args not in ("", "公海"):
        raise UsageError(f"看不懂「{args}」。")
    if args == "公海":  # the rows GET /api/v1/pool-leads lists, for whoever sees the default pool
        pool = ctx.session.scalar(select(Pool).where(Pool.corp_id == ctx.corp_id, Pool.is_default.is_(True)))
        if ctx.visible_userids is not None and pool is not None and not sees(ctx.session, pool, ctx.userid):
            raise CommandError("你所在的部门看不到默认公海。")
        query, title = unassigned_leads().where(Lead.corp_id == ctx.corp_id), "公海里没人负责的线索"
    else:
        query = select(Lead).where(Lead.corp_id == ctx.corp_id, Lead.status.in_(OPEN_LEAD_STATUSES),
                                   Lead.owner_userid == ctx.userid)
        title = "你负责、还没转成客户的线索"
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pooled = _pooled_customers(ctx) if args == "公海" else ""
    if not total:
        return f"{title}：没有。" + pooled
    rows = ctx.session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(LIST_LIMIT)).all()
    lines = [f"{title}：{total} 条" + (f"，显示最新的 {LIST_LIMIT} 条" if total > LIST_LIMIT else "")]
    lines += [f"  {lead.name}" + (f"（{lead.source}）" if lead.source else "") for lead in rows]
    return "\n".join(lines) + pooled


def _pooled_customers(ctx: BotContext) -> str:
    """The customers in the corp's pools the caller sees (公海, models/pool.py: the rows GET
    /api/v1/pool-customers lists), per pool; nothing when there are none."""
    pools = [p for p in ctx.session.scalars(select(Pool).where(Pool.corp_id == ctx.corp_id))
             if ctx.visible_userids is None or sees(ctx.session, p, ctx.userid)]
    counts = ctx.session.execute(select(Pool.name, func.count(Customer.id)).join(Customer, Customer.pool_id == Pool.id)
                                 .where(Pool.id.in_([p.id for p in pools]), Customer.pooled_at.is_not(None),
                                        Customer.deleted_at.is_(None))
                                 .group_by(Pool.id, Pool.name).order_by(Pool.id)).all()
    if not counts:
        return ""
    return (f"\n公海里的客户：{sum(n for _, n in counts)} 个（" + "、".join(f"{name} {n}" for name, n in counts)
            + "），在管理后台领取或分配")
