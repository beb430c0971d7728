"""Models of web/api_fields.py: customer custom field definitions. The models fix the JSON types; what a
definition may say beyond that (the key's form, choices per type, fixed key and type) is
`rules.fields.definition_errors`, which names the same fields."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from models.fields import FieldSubject, FieldType
from rules.fields import KEY_PATTERN, MAX_LABEL, MAX_OPTION, MAX_OPTIONS, MAX_ORDER
from web.schemas.common import Body, CorpId, CorpQuery, Out


class FieldChange(Body):
    """A change to a field: what is given changes. Key and type cannot change (422 if they differ)."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, pattern=f"^{KEY_PATTERN}$")
    label: str | None = Field(None, max_length=MAX_LABEL)
    type: FieldType | None = None
    options: list[str] | None = Field(None, max_length=MAX_OPTIONS,
                                      description=f"select and multi_select: choices of at most {MAX_OPTION} "
                                                  "characters")
    required: bool | None = None
    unique: bool | None = None
    visible: bool | None = None
    order: int | None = Field(None, ge=-MAX_ORDER, le=MAX_ORDER)


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
    options: list[str]
    required: bool
    unique: bool
    visible: bool
    order: int


class DeletedField(FieldOut):
    deleted: bool
