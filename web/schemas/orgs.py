"""Models of web/api_companies.py, web/api_contacts.py and web/api_industries.py: companies (004 §4.9, 000
part 5), contacts (000 part 6) and industries (004 §9.9.1)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from web.schemas.common import Body, CorpBody, CorpId, Day, Id, Out, PageQuery
from web.schemas.sales import FollowUpOut


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
IndustryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^[0-9-]*$")]
Userid = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Level = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)]
PHONE = "digits and '-' only, e.g. 020-12345678"


class CompanySize(enum.StrEnum):
    """人员规模 (004 §4.9.2: a drop-down; the manual does not list the choices, these are ours)."""

    tiny = "1-19"
    small = "20-99"
    medium = "100-499"
    large = "500-999"
    larger = "1000-9999"
    huge = "10000+"


# -- industries ---------------------------------------------------------------------------------------------
class IndustryBody(CorpBody):
    name: IndustryName


class IndustryEdit(Body):
    name: IndustryName


class IndustryOut(Out):
    id: int
    corp_id: str
    name: str
    preset: bool = Field(description="one of the manual's 17: never renamed nor deleted")
    position: int


# -- companies ----------------------------------------------------------------------------------------------
class CompanyFields(Body):
    """A company's fields as a client writes them (and as a copy's draft hands them back)."""

    name: Name = Field(description="企业名称, the full name (required)")
    short_name: Short = ""
    phone: Phone = Field("", description=PHONE)
    website: Long = ""
    province: Place = ""
    city: Place = ""
    address: Long = ""
    industry_id: Id | None = Field(None, description="one of the corp's industries (GET /industries)")
    size: CompanySize | None = Field(None, description="人员规模")
    level: Level = Field("", description="企业等级 (free text, as in the manual)")
    source: Label = Field("", description="客户来源")
    type: Label = Field("", description="客户类型")
    deal: bool = Field(False, description="是否成交")
    owner: Userid | None = Field(None, description="负责人's userid (a member token: its own, the default)")


class CompanyBody(CompanyFields):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")


class CompanyEdit(Body):
    """A field left out stays; null clears it (name cannot be cleared)."""

    name: Name | None = None
    short_name: Short | None = None
    phone: Phone | None = Field(None, description=PHONE)
    website: Long | None = None
    province: Place | None = None
    city: Place | None = None
    address: Long | None = None
    industry_id: Id | None = None
    size: CompanySize | None = None
    level: Level | None = None
    source: Label | None = None
    type: Label | None = None
    deal: bool | None = None
    owner: Userid | None = None


class CompanyQuery(PageQuery):
    keyword: str | None = Field(None, max_length=128, description="in the name, short name or address")
    industry_id: Id | None = None
    level: str | None = Field(None, max_length=32)
    owner: str | None = Field(None, max_length=64, description="负责人's userid")
    deal: bool | None = None
    created_from: Day | None = Field(None, description="created on or after this corp-local day")
    created_to: Day | None = Field(None, description="… on or before this corp-local day")


class CompanyOut(Out):
    id: int
    corp_id: str
    name: str
    short_name: str
    phone: str
    website: str
    province: str
    city: str
    address: str
    industry_id: int | None
    industry: str = Field(description="the industry's name")
    size: CompanySize | None
    level: str
    source: str
    type: str
    deal: bool
    owner: str | None
    customer_count: int = Field(description="相关客户: customers of this company (every one, seen or not)")
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class CustomerRef(Out):
    id: int
    name: str


class ContactRef(Out):
    id: int
    name: str
    mobile: str
    position: str


class CompanyDetail(CompanyOut):
    customers: list[CustomerRef] = Field(description="its customers the caller may see, newest first (≤100)")
    contacts: list[ContactRef] = Field(description="its contacts the caller may see, newest first (≤100)")
    follow_ups: list[FollowUpOut] = Field(description="follow-ups on the company, newest first (≤20)")


class CompanyDraft(CompanyFields):
    """A copy's pre-filled form: POST it to /companies to save it."""

    model_config = ConfigDict(strict=False, extra="forbid")
    corp_id: str


class CustomerIds(Body):
    customer_ids: list[Id] = Field(min_length=1, max_length=100)


# -- contacts -----------------------------------------------------------------------------------------------
class ContactFields(Body):
    name: PersonName = Field(description="姓名 (required)")
    mobile: Phone = Field("", description=PHONE)
    position: Short = Field("", description="职务")
    company_id: Id | None = Field(None, description="the company (企业) this person works at")
    customer_id: Id | None = Field(None, description="the WeCom customer this person is (one contact per customer)")
    owner: Userid | None = Field(None, description="负责人's userid (a member token: its own, the default)")


class ContactBody(ContactFields):
    corp_id: CorpId | None = Field(None, description="which corp (a token limited to a corp needs none)")


class ContactEdit(Body):
    """A field left out stays; null clears it (name cannot be cleared)."""

    name: PersonName | None = None
    mobile: Phone | None = Field(None, description=PHONE)
    position: Short | None = None
    company_id: Id | None = None
    customer_id: Id | None = None
    owner: Userid | None = None


class ContactQuery(PageQuery):
    keyword: str | None = Field(None, max_length=128, description="in the name, mobile or position")
    company_id: Id | None = Field(None, description="one company's contacts (404 if not yours to see)")
    customer_id: Id | None = Field(None, description="the contact of this customer (404 if not yours to see)")
    owner: str | None = Field(None, max_length=64, description="负责人's userid")
    created_from: Day | None = Field(None, description="created on or after this corp-local day")
    created_to: Day | None = Field(None, description="… on or before this corp-local day")


class ContactOut(Out):
    id: int
    corp_id: str
    name: str
    mobile: str
    position: str
    company_id: int | None
    company: str = Field(description="the company's name")
    customer_id: int | None
    owner: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactDetail(ContactOut):
    follow_ups: list[FollowUpOut] = Field(description="follow-ups on the contact, newest first (≤20)")


class ContactDraft(ContactFields):
    """A copy's pre-filled form (without the customer link: a customer has one contact): POST it to
    /contacts to save it."""

    model_config = ConfigDict(strict=False, extra="forbid")
    corp_id: str
