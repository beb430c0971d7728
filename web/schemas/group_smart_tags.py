"""The conditions of a smart-tag rule on customer groups (标签类型 客户群标签, 004 §4.6.3.2 B; 9.2.3: "条件包含客户群
或群主属性"): over the group facts we keep (models/groups.py): its name, owner and the owner's department, its
member count, when it was created and how many joined lately. Group messages are not stored (WeCom's chat
archive is not in use), so there is no keyword condition on them.

Kinds are named apart from the customer kinds (web/schemas/smart_tags.py), so one `Conditions` shape holds
either, and a rule's `subject` says which it takes. `GROUP_TRIGGERS`: the group events that can change each
kind's answer: `group` (the group created or its details read again: handlers/group_store.py apply_groups) and
`group_member` (a join or quit applied from a change_external_chat event).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from web.schemas.common import Body, Day

MAX_WORD = 40
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WORD)]
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Days = Annotated[int, Field(ge=1, le=3650)]
Who = Literal["all", "customers", "staff"]


class _Range(Body):
    min: Count | None = None
    max: Count | None = None

    @model_validator(mode="after")
    def _range(self) -> _Range:
        if self.min is None and self.max is None:
            raise ValueError("give min and/or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min ≤ max")
        return self


class GroupName(Body):
    kind: Literal["group_name"]
    words: list[Word] = Field(min_length=1, max_length=20, description="the group's name contains any of these")


class GroupOwner(Body):
    kind: Literal["group_owner"]
    userids: list[UserId] = Field(min_length=1, max_length=50, description="the group's owner (群主) is one of "
                                                                          "these members")


class OwnerDepartment(Body):
    kind: Literal["owner_department"]
    departments: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(
        min_length=1, max_length=50, description="the owner is in these departments or those below them")


class MemberCount(_Range):
    kind: Literal["member_count"]
    who: Who = Field("all", description="count all members, the customers (external) or the staff")


class GroupCreated(Body):
    kind: Literal["group_created"]
    since: Day | None = Field(None, description="created on or after this corp-local day")
    until: Day | None = Field(None, description="… on or before this day")

    @model_validator(mode="after")
    def _some(self) -> GroupCreated:
        if self.since is None and self.until is None:
            raise ValueError("give since and/or until")
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")
        return self


class GroupJoins(_Range):
    kind: Literal["group_joins"]
    days: Days = Field(description="joins within the last N days")
    who: Who = Field("all", description="count joins of all members, customers (external) or staff")


GroupCondition = GroupName | GroupOwner | OwnerDepartment | MemberCount | GroupCreated | GroupJoins

GROUP_TRIGGERS: dict[str, tuple[str, ...]] = {
    "group_name": ("group",), "group_owner": ("group",), "owner_department": ("group",),
    "member_count": ("group", "group_member"), "group_created": ("group",),
    "group_joins": ("group", "group_member"),
}
GROUP_DAILY = {"group_joins"}
"""A join count with a maximum comes true as old joins leave the window: the daily run looks again."""
