"""What the staff member who typed a command may see and touch, the same as the admin API would let them.

Role: a staff member is a `member` (scoped to the customers they follow or own) unless a live (not revoked,
not expired) API token names their userid with a higher role in the callback's corp; then they act with that
role (`admin` and `super_admin` see the whole corp). Userids are unique only within a corp, so a token
without a corp counts only while exactly one corp is configured (web/auth.py binds new ones to it). The
API token is the one place roles are granted today, so the bot reads it rather than keeping a second list.

Customers: the API's scope (web/api_customers.py `_scoped`): not in the recycle bin, the caller's corp,
and for a member only customers followed or owned (跟进人, e.g. claimed from the public pool) by someone in
their data scope (their roles, models/access.py; the basic role: themselves): the one rule,
models/customer.py `followed_or_owned_by`. Mobiles are masked for members while the corp's 电话号码隐藏
setting is on (the default).
"""

from __future__ import annotations

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from bot.commands import BotContext, CommandError
from models import ApiToken, App, Corp, CorpSettings, Customer, FollowRelation, Role, Staff
from models.auth import sole_corp
from models.customer import followed_or_owned_by
from models.db import utcnow

ROLE_ORDER = (Role.super_admin.value, Role.admin.value, Role.member.value)
# mark_tag needs an app allowed to call the customer-contact API: the corp's 客户联系 app if it has one,
# else its self-built app (web/scope.py chooses the same way for the admin API).
CONTACT_APP_PREFERENCE = {"contact": 0, "agent": 1, "kf": 2}


def staff_role(session: Session, corp_id: str, userid: str) -> str:
    """The highest role among the member's live API tokens for this corp; `member` without one."""
    corp_match = ApiToken.corp_id == corp_id
    if sole_corp(session) == corp_id:
        corp_match = or_(corp_match, ApiToken.corp_id.is_(None))
    roles = set(session.scalars(select(ApiToken.role).where(
        ApiToken.userid == userid, ApiToken.revoked_at.is_(None), corp_match,
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))))
    return next((r for r in ROLE_ORDER if r in roles), Role.member.value)


def visible_customers(ctx: BotContext):  # -> Select[tuple[Customer]]
    """The customers every command looks up and acts on: the caller's corp, not in the recycle bin, and
    for a member those followed or owned by someone in their data scope (models/customer.py)."""
    query = select(Customer).where(Customer.corp_id == ctx.corp_id, Customer.deleted_at.is_(None))
    seen = ctx.visible_userids
    return query if seen is None else query.where(followed_or_owned_by(seen))


def masks_mobiles(ctx: BotContext) -> bool:
    if not ctx.is_member:
        return False
    setting = ctx.session.scalar(select(CorpSettings.mask_mobile_for_members).where(
        CorpSettings.corp_id == ctx.corp_id))
    return True if setting is None else setting


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def mobile_digits(text: str) -> str | None:
    """The digits of a phone number as typed (138 0000 0000, +86-138…), or None when it is not one."""
    digits = text.replace(" ", "").replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits if digits.isascii() and digits.isdigit() and len(digits) >= 4 else None


def search_customers(ctx: BotContext, text: str, limit: int) -> tuple[int, list[Customer]]:
    """(how many match, the newest `limit`) of the visible customers matching a name, a remark, a
    company or a mobile (the customer's own or one a follower noted in remark_mobiles)."""
    digits = mobile_digits(text)
    if digits:
        like = _like(digits)
        cond = or_(Customer.mobile.like(like, escape="\\"),
                   Customer.follows.any(cast(FollowRelation.remark_mobiles, String).like(like, escape="\\")))
    else:
        like = _like(text)
        cond = or_(Customer.name.like(like, escape="\\"), Customer.corp_name.like(like, escape="\\"),
                   Customer.follows.any(FollowRelation.remark.like(like, escape="\\")))
    query = visible_customers(ctx).where(cond)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery()))
    return total or 0, list(ctx.session.scalars(query.order_by(Customer.id.desc()).limit(limit)))


def resolve_customer(ctx: BotContext, ref: str) -> Customer:
    """The one visible customer `ref` names: `#12` (the number /客户 shows), else an exact name, remark or
    mobile, else a single partial match. A customer the member may not see is answered as not found."""
    if not ref:
        raise CommandError("请说明是哪位客户。")
    number = ref.lstrip("#＃")
    if ref[0] in "#＃" and number.isascii() and number.isdigit():
        customer = ctx.session.scalar(visible_customers(ctx).where(Customer.id == int(number)))
        if customer is None:
            raise CommandError(f"没有找到客户 {ref}。")
        return customer
    digits = mobile_digits(ref)
    if digits:
        exact = or_(Customer.mobile == digits, Customer.follows.any(
            cast(FollowRelation.remark_mobiles, String).like(_like(f'"{digits}"'), escape="\\")))
    else:
        exact = or_(Customer.name == ref, Customer.follows.any(FollowRelation.remark == ref))
    matches = list(ctx.session.scalars(visible_customers(ctx).where(exact).order_by(Customer.id.desc()).limit(6)))
    if not matches:
        _, matches = search_customers(ctx, ref, 6)
    if not matches:
        raise CommandError(f"没有找到客户「{ref}」。可以先用 /客户 查找。")
    if len(matches) > 1:
        names = "、".join(f"#{c.id} {c.name}" for c in matches[:5])
        raise CommandError(f"「{ref}」对应多个客户：{names}\n请用编号指定，例如 #{matches[0].id}。")
    return matches[0]


def staff_names(session: Session, corp_id: str, userids: set[str]) -> dict[str, str]:
    if not userids:
        return {}
    rows = session.execute(select(Staff.userid, Staff.name).where(Staff.corp_id == corp_id,
                                                                  Staff.userid.in_(userids)))
    return {userid: name or userid for userid, name in rows}


def contact_app_pk(session: Session, corp_id: str) -> int:
    apps = session.execute(select(App.id, App.kind).join(Corp).where(Corp.corp_id == corp_id)).all()
    if not apps:
        raise CommandError("企业还没有配置可以调用客户联系接口的应用。")
    return min(apps, key=lambda a: (CONTACT_APP_PREFERENCE.get(a.kind, 9), a.id)).id
