"""Lost customers in the recycle bin (客户回收站, manual 4.5): each follow relation a customer lost, by its loss
type (流失类型: deleted by the member 员工删除, deleted by the customer 客户删除, the member resigned 员工离职)
and loss time, next to the admin soft-deletes of GET /recycle-bin. The relations are kept as they ended
(handlers/lifecycle.py, handlers/directory.py); nothing is copied. Filter by type, keyword (name, mobile,
remark) and loss day (corp-local); CSV export of the same list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from sqlalchemy import Select, and_, case, or_, select
from sqlalchemy.orm import Session

from handlers.channels import corp_zone
from models import Customer, FollowRelation, FollowStatus, Role, Staff
from web import errors
from web.api import _like, page_rows
from web.api_customers import _day_range, _iso, _scoped
from web.auth import require
from web.csv_export import csv_chunks, csv_response, local
from web.endpoint import endpoint
from web.sales_scope import runtime
from web.schemas.common import Page
from web.schemas.customers import LostCustomer, LostQuery

bp = Blueprint("api_recycle_losses", __name__, url_prefix="/api/v1")
errors.register(bp)

RESIGNED = "staff_resigned"
LOSS_NAMES = {FollowStatus.deleted_by_staff.value: "员工删除", FollowStatus.deleted_by_customer.value: "客户删除",
              RESIGNED: "员工离职"}
_resigned = and_(FollowRelation.status == FollowStatus.active.value, Staff.status == "resigned")
LOSS_TYPE = case((_resigned, RESIGNED), else_=FollowRelation.status)
LOST_AT = case((_resigned, Staff.resigned_at), else_=FollowRelation.status_changed_at)


def lost_rows(query: LostQuery) -> Select:
    """The lost relations of the customers this token may see, latest loss first."""
    visible = _scoped().with_only_columns(Customer.id).order_by(None)
    rows = (select(FollowRelation).join(Customer, Customer.id == FollowRelation.customer_id)
            .outerjoin(Staff, and_(Staff.corp_id == FollowRelation.corp_id, Staff.userid == FollowRelation.userid))
            .where(FollowRelation.customer_id.in_(visible),
                   or_(FollowRelation.status.in_((FollowStatus.deleted_by_staff.value,
                                                  FollowStatus.deleted_by_customer.value)), _resigned))
            .order_by(LOST_AT.desc(), FollowRelation.id.desc()))
    if query.loss_type:
        rows = rows.where(LOSS_TYPE == query.loss_type)
    keyword = (query.keyword or "").strip()
    if keyword:
        like = _like(keyword)
        rows = rows.where(or_(Customer.name.like(like, escape="\\"), Customer.mobile.like(like, escape="\\"),
                              FollowRelation.remark.like(like, escape="\\")))
    lost = _day_range(FollowRelation.corp_id, LOST_AT, query.lost_from, query.lost_to, "lost")
    return rows if lost is None else rows.where(lost)


@dataclass(frozen=True)
class Lost:
    follow: FollowRelation
    customer: Customer
    staff_name: str
    loss_type: str
    lost_at: dt.datetime | None


def _lost(s: Session, follows: list[FollowRelation]) -> list[Lost]:
    """A page of lost relations with their customers and members, looked up together."""
    customers = {c.id: c for c in s.scalars(select(Customer).where(Customer.id.in_({f.customer_id for f in follows})))}
    staff = {(m.corp_id, m.userid): m for m in s.scalars(select(Staff).where(
        Staff.userid.in_({f.userid for f in follows}), Staff.corp_id.in_({f.corp_id for f in follows})))}
    out = []
    for f in follows:
        member = staff.get((f.corp_id, f.userid))
        resigned = f.status == FollowStatus.active.value and member is not None and member.status == "resigned"
        out.append(Lost(f, customers[f.customer_id], member.name if member else f.userid,
                        RESIGNED if resigned else f.status,
                        member.resigned_at if resigned and member else f.status_changed_at))
    return out


def render(s: Session, follows: list[FollowRelation]) -> list[dict[str, Any]]:
    return [{"customer_id": x.customer.id, "name": x.customer.name, "mobile": x.customer.mobile,
             "userid": x.follow.userid, "staff_name": x.staff_name, "loss_type": x.loss_type,
             "lost_at": _iso(x.lost_at), "added_at": _iso(x.follow.added_at), "remark": x.follow.remark}
            for x in _lost(s, follows)]


@bp.get("/recycle-bin/lost")
@require(Role.admin)
@endpoint("Lost customers (流失客户): each relation lost by loss type (deleted_by_staff, deleted_by_customer, "
          "staff_resigned), latest loss first", query=LostQuery, response=Page[LostCustomer])
def list_lost(query: LostQuery) -> Any:
    return page_rows(lost_rows(query), render, query)


@bp.get("/recycle-bin/lost/export")
@require(Role.admin)
@endpoint("The lost customers' list as CSV (same filters)", query=LostQuery, response=bytes)
def export_lost(query: LostQuery) -> Any:
    header = ["客户ID", "客户名称", "电话", "添加人", "删除类型", "流失时间", "添加时间", "备注"]

    def rows(s: Session, follows: list[FollowRelation]) -> list[list[Any]]:
        zones = {corp_id: corp_zone(s, corp_id) for corp_id in {f.corp_id for f in follows}}
        return [[x.customer.external_userid, x.customer.name, x.customer.mobile, x.staff_name,
                 LOSS_NAMES[x.loss_type], local(x.lost_at, zones[x.follow.corp_id]),
                 local(x.follow.added_at, zones[x.follow.corp_id]), x.follow.remark] for x in _lost(s, follows)]

    return csv_response(csv_chunks(runtime(), lost_rows(query), header, rows), "lost-customers.csv")
