"""Models of web/api_smart_tags.py: smart-tag rules (智能标签, 004 §4.6.3) and their conditions.

Conditions nest two levels at most (the manual's 条件组 holds conditions only): a rule's `conditions` is a
group whose items are conditions or groups of conditions; `match` is "all" (且, the default) or "any" (或).
Each condition kind names the events that can change its answer (`TRIGGERS`): a rule is evaluated on those
events only, and the kinds in `DAILY` (they come true as days pass) by the daily run. A rule's `subject` says
whether it tags customers (these kinds) or customer groups (web/schemas/group_smart_tags.py's kinds).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StringConstraints, Tag, model_validator

from web.schemas.common import Body, CorpBody, Day, Id, Int32, Out, PageQuery
from web.schemas.group_smart_tags import GROUP_DAILY, GROUP_TRIGGERS, GroupCondition
from web.schemas.segment_filters import MAX_FIELD_TEXT, ChannelName, FieldCondition

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_FIELD_TEXT)]
Days = Annotated[int, Field(ge=1, le=3650)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MAX_CONDITIONS = 20

# event kind → what it is: the hook points that call handlers.smart_tags.smart_tag_event
EVENTS = ("message", "customer", "follow_up", "opportunity", "radar", "field", "group", "group_member")


class Keyword(Body):
    kind: Literal["keyword"]
    words: list[Word] = Field(min_length=1, max_length=20, description="the customer wrote a message containing "
                                                                          "any of these words")


class Channel(Body):
    kind: Literal["channel"]
    channels: list[ChannelName] = Field(default_factory=list, max_length=50, description="channel names (渠道)")
    channel_code_ids: list[Id] = Field(default_factory=list, max_length=50, description="channel codes")

    @model_validator(mode="after")
    def _some(self) -> Channel:
        if not self.channels and not self.channel_code_ids:
            raise ValueError("name at least one channel or channel code")
        return self


class Gender(Body):
    kind: Literal["gender"]
    genders: list[Literal[0, 1, 2]] = Field(min_length=1, description="0 unknown, 1 male, 2 female")


class Source(Body):
    kind: Literal["source"]
    add_ways: list[Int32] = Field(min_length=1, max_length=50, description="WeCom's add_way (客户来源) of a "
                                                                          "follow relation")


class Birthday(Body):
    kind: Literal["birthday"]
    field_id: Id = Field(description="a date custom field holding the birthday")
    within_days: Annotated[int, Field(ge=0, le=31)] = Field(0, description="the birthday is today (0) or within "
                                                                           "this many days")


class Age(Body):
    kind: Literal["age"]
    field_id: Id = Field(description="a date custom field holding the birthday")
    min: Annotated[int, Field(ge=0, le=150)] | None = None
    max: Annotated[int, Field(ge=0, le=150)] | None = None

    @model_validator(mode="after")
    def _range(self) -> Age:
        if self.min is None and self.max is None or (self.min is not None and self.max is not None
                                                     and self.min > self.max):
            raise ValueError("min and/or max, min ≤ max")
        return self


class LastContact(Body):
    kind: Literal["last_contact"]
    since: Day | None = Field(None, description="last contact (a follow-up record or a message from the customer) "
                                                "on or after this day")
    until: Day | None = Field(None, description="… on or before this day")
    within_days: Days | None = Field(None, description="… within the last N days (instead of a range)")

    @model_validator(mode="after")
    def _one(self) -> LastContact:
        ranged = self.since is not None or self.until is not None
        if ranged == (self.within_days is not None):
            raise ValueError("either since/until or within_days")
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")
        return self


class Silence(Body):
    kind: Literal["silence"]
    days: Days = Field(description="no follow-up record and no message from the customer for at least N days")


class Counted(Body):
    kind: Literal["follow_ups", "opportunities"]
    min: Count = 1
    max: Count | None = None

    @model_validator(mode="after")
    def _range(self) -> Counted:
        if self.max is not None and self.max < self.min:
            raise ValueError("min ≤ max")
        return self


class FieldValue(FieldCondition):
    kind: Literal["field"]


class Department(Body):
    kind: Literal["department"]
    departments: list[Int32] = Field(min_length=1, max_length=50, description="a follower in these departments "
                                                                             "or those below them")


class Radar(Body):
    kind: Literal["radar"]
    material_ids: list[Id] = Field(default_factory=list, max_length=50, description="opened a radar link of "
                                                                                     "these materials (none: any)")


Condition = Annotated[Keyword | Channel | Gender | Source | Birthday | Age | LastContact | Silence | Counted
                      | FieldValue | Department | Radar | GroupCondition, Field(discriminator="kind")]

TRIGGERS: dict[str, tuple[str, ...]] = {
    "keyword": ("message",), "channel": ("customer",), "gender": ("customer",), "source": ("customer",),
    "birthday": ("field",), "age": ("field",), "last_contact": ("message", "follow_up"), "silence": (),
    "follow_ups": ("follow_up",), "opportunities": ("opportunity",), "field": ("field",),
    "department": ("customer",), "radar": ("radar",),
} | GROUP_TRIGGERS
DAILY = {"birthday", "age", "silence"} | GROUP_DAILY
Subject = Literal["customer", "group"]
SUBJECT_KINDS: dict[str, frozenset[str]] = {"group": frozenset(GROUP_TRIGGERS),
                                            "customer": frozenset(TRIGGERS) - frozenset(GROUP_TRIGGERS)}


def _no_group(items: Any) -> Any:
    if isinstance(items, list) and any(isinstance(i, dict) and "conditions" in i for i in items):
        raise ValueError("groups nest two levels at most: a group inside a group holds conditions only")
    return items


def _item_kind(item: Any) -> str:
    has = "conditions" in item if isinstance(item, dict) else hasattr(item, "match")
    return "group" if has else "condition"


class SubGroup(Body):
    """A 条件组: conditions only."""

    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(min_length=1, max_length=MAX_CONDITIONS)

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _no_group(data.get("conditions"))
        return data


class Conditions(Body):
    match: Literal["all", "any"] = "all"
    conditions: list[Annotated[Annotated[Condition, Tag("condition")] | Annotated[SubGroup, Tag("group")],
                               Discriminator(_item_kind)]] = Field(min_length=1, max_length=MAX_CONDITIONS)

    def leaves(self) -> list[Any]:
        return [leaf for item in self.conditions
                for leaf in (item.conditions if isinstance(item, SubGroup) else [item])]

    def triggers(self) -> str:
        """",kind,kind," of the events that can change the answer (and `daily` for time-based kinds)."""
        kinds = {leaf.kind for leaf in self.leaves()}
        events = {e for k in kinds for e in TRIGGERS[k]} | ({"daily"} if kinds & DAILY else set())
        return "," + ",".join(sorted(events)) + ","

    def foreign_kinds(self, subject: str) -> list[str]:
        """The condition kinds here that a rule on `subject` cannot take (customer kinds on a group rule…)."""
        return sorted({leaf.kind for leaf in self.leaves()} - SUBJECT_KINDS[subject])


class RuleBody(CorpBody):
    name: Name
    subject: Subject = Field("customer", description="标签类型: tag customers (客户标签: corp tags) or customer "
                                                     "groups (客户群标签: group tags)")
    tag_pks: list[Id] = Field(min_length=1, max_length=20, description="the tags to add: corp tags (Tag ids) for "
                                                                       "a customer rule, group tags for a group rule")
    conditions: Conditions
    enabled: bool = True


class RuleEdit(Body):
    name: Name | None = None
    tag_pks: list[Id] | None = Field(None, min_length=1, max_length=20, description="changing them re-tags the "
                                                                                    "rule's existing matches")
    conditions: Conditions | None = Field(None, description="changing them affects new matches only")
    enabled: bool | None = None


class RuleQuery(PageQuery):
    corp_id: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=64, description="name contains")
    subject: Subject | None = None
    created_from: Day | None = None
    created_to: Day | None = None


class RuleOut(Out):
    id: int
    corp_id: str
    name: str
    subject: Subject
    tag_pks: list[int]
    conditions: dict[str, Any]
    triggers: list[str]
    enabled: bool
    hits: int = Field(description="customers (or groups) the rule has tagged (覆盖客户/群数)")
    created_by: str
    created_at: dt.datetime | None


class RuleSaved(RuleOut):
    job: int | None = Field(None, description="the re-tagging job when the tags changed (GET /jobs/<id>)")


class HitOut(Out):
    customer_id: int | None = Field(None, description="the customer tagged (a customer rule)")
    chat_id: str | None = Field(None, description="the customer group tagged (a group rule)")
    at: dt.datetime
