"""Models of web/api_customers.py: the customer list's filters, the customer as the API shows it, the
recycle bin and custom field values."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field

from models import FollowStatus
from web.schemas.common import Body, CorpId, Day, Id, Out, PageQuery, Query


class CustomerFilters(Query):
    """The list's filters (004 §4.1.1). staff, status and the added range are on one and the same follow
    relation: "customers zhangsan added in March" means zhangsan's add was in March."""

    staff: str | None = Field(None, max_length=64, description="userid of a follower")
    tag: list[Id] | None = Field(None, description="tag id; repeat it: customers with every tag")
    channel: str | None = Field(None, max_length=64, description="channel name, or channel code id")
    added_from: Day | None = Field(None, description="a follow relation added on or after this corp-local day")
    added_to: Day | None = Field(None, description="… on or before this corp-local day")
    status: FollowStatus | None = Field(None, description="a follow relation's status")
    owner: str | None = Field(None, max_length=64, description="userid of the owner (跟进人)")
    keyword: str | None = Field(None, max_length=128, description="matches name or remark")


class CustomerQuery(CustomerFilters, PageQuery):
    pass


class ExportQuery(CustomerFilters):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")


class BinQuery(PageQuery):
    keyword: str | None = Field(None, max_length=128, description="name, mobile or remark")
    deleted_from: Day | None = Field(None, description="corp-local day, inclusive")
    deleted_to: Day | None = Field(None, description="corp-local day, inclusive")


class LostQuery(PageQuery):
    keyword: str | None = Field(None, max_length=128, description="name, mobile or remark")
    loss_type: Literal["deleted_by_staff", "deleted_by_customer", "staff_resigned"] | None = Field(
        None, description="流失类型: 员工删除, 客户删除, 员工离职")
    lost_from: Day | None = Field(None, description="corp-local day of the loss, inclusive")
    lost_to: Day | None = Field(None, description="corp-local day of the loss, inclusive")


class LostCustomer(Out):
    customer_id: int
    name: str
    mobile: str
    userid: str = Field(description="the member the customer was lost to (添加人)")
    staff_name: str
    loss_type: str
    lost_at: dt.datetime | None
    added_at: dt.datetime | None
    remark: str


class FieldValues(Body):
    """Custom field key → value; null clears the field. Values are checked against each field's type."""

    model_config = ConfigDict(extra="allow", strict=True)


class TagRef(Out):
    id: int
    name: str


class FollowTagOut(TagRef):
    group_id: int
    tagged_by: str
    tagged_at: dt.datetime | None


class CodeRef(Out):
    id: int
    name: str
    channel: str


class FollowOut(Out):
    userid: str
    staff_name: str
    remark: str
    description: str
    remark_mobiles: list[str] = Field(description="masked for members while the corp masks mobiles")
    add_way: int | None
    state: str
    channel_code: CodeRef | None
    status: FollowStatus
    status_changed_at: dt.datetime | None
    added_at: dt.datetime | None
    tags: list[FollowTagOut]


class CustomerOut(Out):
    id: int
    corp_id: str
    external_userid: str
    name: str
    avatar: str
    type: int | None = Field(description="1 微信, 2 企业微信")
    gender: int | None = Field(description="0 unknown, 1 male, 2 female")
    unionid: str | None
    corp_name: str
    position: str
    owner_userid: str | None
    owner_name: str
    mobile: str = Field(description="masked (138****0000) for members while the corp masks mobiles")
    channel: str
    added_at: dt.datetime | None
    follows: list[FollowOut]
    tags: list[TagRef]
    fields: dict[str, Any] = Field(description="custom field key → value (members: visible fields only)")
    created_at: dt.datetime | None
    synced_at: dt.datetime | None


class TimelineEntry(Out):
    kind: str
    userid: str | None
    detail: Any
    at: dt.datetime | None


class CustomerDetail(CustomerOut):
    timeline: list[TimelineEntry] = Field(description="newest first, at most 200")


class BinnedCustomer(CustomerOut):
    deleted_at: dt.datetime | None
    deleted_by: str | None
    purge_after: dt.datetime | None
