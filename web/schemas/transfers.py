"""Models of web/api_transfers.py: hand-overs (客户继承, 004 §4.4), resigned members (离职继承) and the automatic
inheritance rule (离职自动分配)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from handlers.transfers import MAX_PER_TRANSFER, MESSAGE_MAX_CHARS
from models.transfer import ItemStatus, TransferKind
from web.schemas.common import CorpBody, CorpId, Day, Out, PageQuery

Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
STATUSES = ", ".join(s.value for s in ItemStatus)


class TransferQuery(PageQuery):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")
    kind: TransferKind | None = Field(None, description="serving (在职转接) or resigned (离职继承)")
    userid: str | None = Field(None, max_length=64, description="handed over by or to this member")
    status: ItemStatus | None = Field(None, description="with at least one customer or group in this status")


class TransferBody(CorpBody):
    kind: TransferKind = Field(description="serving (在职转接: externalcontact/transfer_customer) or resigned "
                                           "(离职继承: resigned/transfer_customer and groupchat/transfer)")
    handover_userid: Userid = Field(description="the member whose customers and groups move")
    takeover_userid: Userid = Field(description="the member who takes them (active)")
    external_userids: list[ExternalId] | None = Field(
        None, max_length=MAX_PER_TRANSFER,
        description="customers the member holds; left out: every customer they still hold (resigned only)")
    chat_ids: list[ExternalId] | None = Field(
        None, max_length=MAX_PER_TRANSFER,
        description="customer groups the member owns; left out: every group of a resigned member, none otherwise")
    message: str = Field("", max_length=MESSAGE_MAX_CHARS,
                         description=f"转接文案 sent to the customer (serving), at most {MESSAGE_MAX_CHARS} characters")


class ItemOut(Out):
    external_userid: str | None = Field(description="the customer, or null for a group")
    chat_id: str | None = Field(description="the group, or null for a customer")
    customer_name: str | None
    status: str = Field(description=STATUSES)
    errcode: int | None = Field(description="WeCom's errcode for this customer or group, when WeCom refused it")
    reason: str
    takeover_at: dt.datetime | None = Field(description="done at, or (waiting) when WeCom will hand over by itself")


class TransferOut(Out):
    id: int
    corp_id: str
    kind: str
    handover_userid: str
    takeover_userid: str
    message: str
    auto: bool = Field(description="made by the automatic inheritance (离职自动分配)")
    created_by: str
    created_at: dt.datetime
    counts: dict[str, int] = Field(description="items by status")


class TransferDetail(TransferOut):
    items: list[ItemOut]


class ResignedQuery(PageQuery):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")
    tab: Literal["awaiting", "done"] = Field("awaiting", description="awaiting: customers or groups left to hand "
                                                                     "over (待分配); done: nothing left (已分配)")
    since: Day | None = Field(None, description="resigned on or after this day (corp time)")
    until: Day | None = Field(None, description="resigned on or before this day (corp time)")


class Dept(Out):
    id: int
    name: str


class ResignedOut(Out):
    userid: str
    name: str
    departments: list[Dept]
    resigned_at: dt.datetime | None
    customers_awaiting: int = Field(description="待分配客户数: followed still, in no open hand-over")
    groups_awaiting: int = Field(description="待分配群聊数: owned still, in no open hand-over")
    customers_handed_over: int
    groups_handed_over: int


class InheritRuleBody(CorpBody):
    enabled: bool = True
    position: str = Field("", max_length=64, description="heirs' 职务 (the directory's position) must equal this; "
                                                          "empty: any position")
    spread: Literal["even", "round_robin"] = Field("even", description="even: to the heirs holding fewest of the "
                                                                       "leaver's; round_robin: in turn")
    fallback_userid: str = Field("", max_length=64, description="holds the customers when nobody qualifies (云客服)")


class InheritRuleOut(Out):
    corp_id: str
    enabled: bool
    position: str
    spread: str
    fallback_userid: str
    last_run_day: dt.date | None
