"""Models of web/api_tags.py: the tag library and tagging a customer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from web.schemas.common import Body, CorpBody, Id, Int32, Out

MAX_NAME = 30  # WeCom: tag and group names are at most 30 characters
MAX_COLOUR, MAX_DESCRIPTION = 16, 255

EXCLUSIVE = "ours (互斥): a customer has at most one tag of the group; tagging one removes its siblings"
MAX_BULK = 1000  # issue 17: a bulk action takes up to 1,000 selected customers

TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
Colour = Annotated[str, Field(max_length=MAX_COLOUR, description="ours only: WeCom has no tag colours")]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]


class TagIn(Body):
    name: TagName
    colour: Colour = ""
    description: Description = ""


class TagGroupIn(CorpBody):
    name: TagName
    tags: list[TagIn] = Field(min_length=1, description="WeCom has no empty groups; names differ")
    order: Int32 = 0
    exclusive: bool = Field(False, description=EXCLUSIVE)


class TagChange(Body):
    """Rename or reorder (a WeCom call: 202; a larger order comes first) and/or set colour and description
    (ours: 200). Give at least one."""

    name: TagName | None = None
    order: Int32 | None = None
    colour: Colour | None = None
    description: Description | None = None


class Tagging(Body):
    userid: str | None = Field(None, min_length=1, max_length=64,
                               description="the follower; a member's own by default, required for admins")
    add: list[Id] = []
    remove: list[Id] = []


class TagOut(Out):
    id: int
    tag_id: str | None = Field(description="WeCom's id; null while add_corp_tag is pending")
    name: str
    order: int
    colour: str
    description: str
    pending: bool


class TagUpdated(TagOut):
    name_pending: str | None = Field(description="the new name while edit_corp_tag is pending")


class TagGroupOut(Out):
    id: int
    corp_id: str
    group_id: str | None
    name: str
    order: int
    pending: bool
    strategy_id: int | None = Field(description="the rule group (规则组) of a rule-group tag group; null for corp tags")
    exclusive: bool = Field(description=EXCLUSIVE)
    tags: list[TagOut]


class Deleting(Out):
    id: int
    deleting: bool


class Tagged(Out):
    outbox_id: int
    status: str = Field(description="of the mark_tag outbox row")
    userid: str
    tags: list[TagOut]


class TagsIn(Body):
    """Tags added to an existing group (add_corp_tag with its group_id): names differ from each other and
    from the group's tags."""

    tags: list[TagIn] = Field(min_length=1)


class TagGroupChange(Body):
    """Rename or reorder the group (edit_corp_tag: 202) and/or make it exclusive (ours: 200)."""

    name: TagName | None = None
    order: Int32 | None = None
    exclusive: bool | None = Field(None, description=EXCLUSIVE)


