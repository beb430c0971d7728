"""Models of the statistics API (004 §8 数据管理, web/api_stats.py): the customer analysis, the staff analysis
with follow-up visits (回访), the group analysis, and the corp's visit rule. Days are corp-local."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from models.stats import MAX_EXTRA_VISIT_DAYS, MAX_VISIT_DAY
from web.schemas.common import CorpBody, Out
from web.schemas.sales_reports import PeriodQuery

Change = Annotated[float | None, Field(description="(current - previous) / previous, 4 places; null when the "
                                                   "previous period had none")]


class StatsQuery(PeriodQuery):
    """The period (default: the 30 corp-local days ending today) and whose figures: by default everyone the
    caller may see (a member: themself and the members of the departments they lead)."""


class CustomerDay(Out):
    day: dt.date
    new: int
    lost: int
    net: int


class Previous(Out):
    from_: dt.date = Field(alias="from")
    to: dt.date
    new: int
    lost: int
    net: int


class ChannelCount(Out):
    channel: str = Field(description="the channel code's channel, else the customer's 渠道来源; empty: none")
    new: int


class SourceCount(Out):
    add_way: int | None = Field(description="WeCom's add_way")
    name: str
    new: int


class TagCount(Out):
    tag_id: int
    name: str
    new: int


class CustomerStats(Out):
    corp_id: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    userids: list[str] | None = Field(description="whose customers are counted; null: the whole corp")
    new: int = Field(description="新增客户数: customers added in the period (a follow relation each)")
    lost: int = Field(description="流失客户数: relations ended in the period (deleted by the member or the customer)")
    lost_by_staff: int
    lost_by_customer: int
    net: int = Field(description="new - lost")
    previous: Previous = Field(description="the as many days just before")
    new_change: Change
    lost_change: Change
    net_change: Change
    days: list[CustomerDay]
    by_channel: list[ChannelCount]
    by_source: list[SourceCount]
    by_tag: list[TagCount] = Field(description="the tags the period's new customers carry now")


class VisitFigure(Out):
    day: int = Field(description="visit day N after the add (1: 次日回访)")
    due: int
    done: int
    rate: float | None


class WeComBehavior(Out):
    chat_cnt: int
    message_cnt: int
    new_apply_cnt: int
    new_contact_cnt: int
    negative_feedback_cnt: int
    avg_reply_minutes: float | None = Field(description="the days' avg_reply_time averaged over days with chats")
    reply_percentage: float | None = Field(description="the days' reply_percentage averaged over days with chats")


class StaffRow(Out):
    userid: str
    name: str
    customers_added: int
    customers_lost: int
    chats: int = Field(description="customer-service sessions the member received in the period (kf)")
    messages_sent: int = Field(description="messages the member sent in those conversations")
    first_response_seconds: float | None = Field(description="average first response of the sessions answered")
    follow_ups: int
    visits: list[VisitFigure]
    wecom: WeComBehavior = Field(description="WeCom's 联系客户统计 summed over the synced days")


class StaffStats(Out):
    corp_id: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    visit_days: list[int]
    skip_non_workdays: bool
    items: list[StaffRow] = Field(description="most customers added first")
    total: int


class WeComGroups(Out):
    new_chat_cnt: int
    new_member_cnt: int
    msg_total: int
    chat_has_msg: int
    member_has_msg: int
    chat_total: int = Field(description="on the period's last synced day")
    member_total: int = Field(description="on the period's last synced day")


class GroupRow(Out):
    owner: str
    name: str
    groups: int = Field(description="groups owned, not dismissed")
    new_groups: int
    joined: int = Field(description="customers who joined the owner's groups in the period")
    quit: int
    wecom: WeComGroups


class GroupDay(Out):
    day: dt.date
    new_chat_cnt: int
    new_member_cnt: int
    msg_total: int


class GroupStats(Out):
    corp_id: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    items: list[GroupRow] = Field(description="most groups first")
    total: int
    days: list[GroupDay] = Field(description="WeCom's figures of the scope's owners per synced day")


class VisitSettingsBody(CorpBody):
    extra_days: list[Annotated[int, Field(ge=1, le=MAX_VISIT_DAY)]] = Field(
        max_length=MAX_EXTRA_VISIT_DAYS, description="up to two visit days of the corp's own, beyond 1, 3, 5, 7")
    skip_non_workdays: bool = Field(description="visit days count working days of the working-hours calendar")


class VisitSettingsOut(Out):
    corp_id: str
    days: list[int]
    extra_days: list[int]
    skip_non_workdays: bool
