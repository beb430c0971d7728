"""Models of web/api_fields.py: customer custom field definitions. The models fix the JSON types; what a
definition may say beyond that (the key's form, choices per type, fixed key and type) is
`rules.fields.definition_errors`, which names the same fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from models.fields import FieldSubject, FieldType
from rules.fields import KEY_PATTERN, MAX_LABEL, MAX_OPTION, MAX_OPTIONS, MAX_ORDER
from web.schemas.common import Body, CorpId, CorpQuery, Out


class CascadeOption(Body):
    """A choice of a cascade (级联) field with the choices under it (at most 4 levels)."""

    label: str = Field(max_length=MAX_OPTION)
    children: list[CascadeOption] = []


class FieldChange(Body):
    """A change to a field: what is given changes. Key and type cannot change (422 if they differ)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, pattern=f"^{KEY_PATTERN}$")
    label: str | None = Field(None, max_length=MAX_LABEL)
    type: FieldType | None = None
    options: list[str | CascadeOption] | None = Field(
        None, max_length=MAX_OPTIONS, description=f"select and multi_select: choices of at most {MAX_OPTION} "
                                                  "characters; cascade: a tree of {label, children}")
    required: bool | None = None
    unique: bool | None = None
    visible: bool | None = None
    enabled: bool | None = Field(None, description="false: off every form and customer, values kept (停用)")
    order: int | None = Field(None, ge=-MAX_ORDER, le=MAX_ORDER)
    decimals: Literal[0, 2] | None = Field(None, description="number: 0 integer, 2 two decimal places")
    with_time: bool | None = Field(None, description="date: the value carries a time (YYYY-MM-DD HH:MM)")
    default: Any = Field(None, description="the default option: a value of the field, taken by a row's first write")


class FieldDefinition(FieldChange):
    key: str = Field(pattern=f"^{KEY_PATTERN}$", description="fixed once created, and never reused")
    label: str = Field(max_length=MAX_LABEL)
    type: FieldType
    subject: FieldSubject = Field(FieldSubject.customer, description="customer (客户), group (客户群) or lead "
                                                                         "(线索; unique not enforced); fixed")
    corp_id: CorpId | None = None


class FieldQuery(CorpQuery):
    subject: FieldSubject = Field(FieldSubject.customer, description="whose fields: customer, group or lead")


class FieldOut(Out):
    id: int
    corp_id: str
    subject: FieldSubject
    key: str
    label: str
    type: FieldType
    options: list[str | CascadeOption]
    required: bool
    unique: bool
    visible: bool
    order: int
    enabled: bool
    default: Any
    decimals: int | None
    with_time: bool


class DeletedField(FieldOut):
    deleted: bool
