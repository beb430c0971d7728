"""Request and response models of the sidebar's admin API (web/api_sidebar.py): its configuration and the
auxiliary components."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from rules.component_signature import TTL_SECONDS
from web.schemas.common import Body, CorpBody, Out
from web.sidebar_config import FIELDS, PAGES, SECTIONS

PageName = Literal["customer", "group", "quick_replies", "materials", "components"]
SectionName = Literal["tags", "info", "followers", "opportunities", "follow_up", "timeline", "components"]
FieldName = Literal["type", "mobile", "added_at", "description", "custom"]


def _once(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise ValueError("each name at most once")
    return names


def _listing(names: dict[str, str]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in names.items())


class SidebarConfigIn(CorpBody):
    pages: Annotated[list[PageName], AfterValidator(_once)] = Field(
        description=f"the pages shown, in order: {_listing(PAGES)}")
    sections: Annotated[list[SectionName], AfterValidator(_once)] = Field(
        description=f"the customer profile's sections shown, in order: {_listing(SECTIONS)}")
    fields: Annotated[list[FieldName], AfterValidator(_once)] = Field(
        description=f"the rows of its 客户信息 section, in order: {_listing(FIELDS)}")


class SidebarConfigOut(Out):
    corp_id: str
    pages: list[str]
    sections: list[str]
    fields: list[str]


HttpUrl = Annotated[str, StringConstraints(min_length=10, max_length=512, pattern=r"^https?://[^\s/]+[^\s]*$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=30, strip_whitespace=True)]

SIGNING = (
    "The sidebar opens the component's url with the customer's ids added to its query: corp_id, external_userid, "
    f"userid, timestamp, expires (timestamp + {TTL_SECONDS}) and signature = lowercase hex HMAC-SHA256(key = the "
    "component's secret, message = the five parameters sorted by name as name=value joined by &, values not "
    "URL-encoded). The page recomputes it, compares in constant time and refuses it after expires. Worked "
    "example: secret cs_example_secret, corp_id ww0123456789abcdef, external_userid wmEXAMPLE0001, userid "
    "zhangsan, timestamp 1764403200, expires 1764403500 → message corp_id=ww0123456789abcdef&expires=1764403500"
    "&external_userid=wmEXAMPLE0001&timestamp=1764403200&userid=zhangsan → signature "
    "6624a83a932aa0902cbb0bdd3776ee7dd1065e484dd0eb7cf8a334c2795ea72a.")


class ComponentIn(CorpBody):
    name: Name
    url: HttpUrl
    position: int = Field(0, ge=0, le=1000, description="order in the sidebar, smallest first")


class ComponentChange(Body):
    name: Name | None = None
    url: HttpUrl | None = None
    position: int | None = Field(None, ge=0, le=1000)


class ComponentOut(Out):
    id: int
    corp_id: str
    name: str
    url: str
    position: int
    created_at: dt.datetime


class ComponentCreated(ComponentOut):
    secret: str = Field(description="the signing secret: shown this once, keep it in the component's page")
