"""Custom fields (001 字段设置, 004 §9.10): definitions for a subject (customers, customer groups) and each
row's values. A field's key is unique within its corp across both subjects, so a key names one field."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk


class FieldType(enum.StrEnum):
    text = "text"
    number = "number"
    date = "date"
    select = "select"
    multi_select = "multi_select"
    phone = "phone"
    cascade = "cascade"  # 级联: a tree of choices, the value a path from the top down to a leaf


class FieldSubject(enum.StrEnum):
    """What a field describes (9.10.1 客户, 9.10.2 客户群)."""

    customer = "customer"
    group = "group"
    lead = "lead"  # 004 §4.7: values kept on the lead (models/lead.py `fields`)


class CustomField(Base):
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("corp_id", "key"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(16), default=FieldSubject.customer.value)
    label: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[Any]] = mapped_column(default=list)
    required: Mapped[bool] = mapped_column(default=False)
    unique: Mapped[bool] = mapped_column(default=False)
    visible: Mapped[bool] = mapped_column(default=True)
    order: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    """A disabled (停用) field is off every form and customer (its values are kept) until enabled again."""
    default: Mapped[Any] = mapped_column(JSON, nullable=True)
    """The default option (默认选项): a row's first write takes it for a field it leaves out."""
    decimals: Mapped[int | None]
    """number fields: 0 whole (整数), 2 two decimal places (小数); null any number."""
    with_time: Mapped[bool] = mapped_column(default=False)
    """date fields: the value carries a time to the minute."""
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]


class CustomerFieldValue(Base):
    """A value, stored as JSON, plus `text` (its canonical string). `unique_text` repeats `text` only while
    the field is unique: NULLs never collide, so the index enforces `unique` across the corp's customers
    (a field belongs to one corp) even against two concurrent writers, and costs nothing for other fields.
    unique_text leads the index so that MySQL keeps its own index for the field_id foreign key (an index led
    by field_id would replace it and could then not be dropped by a downgrade)."""

    __tablename__ = "customer_field_values"
    # (field_id, text): segments' and smart tags' custom-field conditions
    __table_args__ = (UniqueConstraint("customer_id", "field_id"), UniqueConstraint("unique_text", "field_id"),
                      Index("ix_customer_field_values_field_id_text", "field_id", "text"))

    id: Mapped[intpk]
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id"))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    text: Mapped[str] = mapped_column(String(191), default="")
    unique_text: Mapped[str | None] = mapped_column(String(191))


class GroupFieldValue(Base):
    """A customer group's value of a group field: stored as `CustomerFieldValue` is (value, canonical text,
    unique_text while the field is unique)."""

    __tablename__ = "group_field_values"
    __table_args__ = (UniqueConstraint("group_id", "field_id"), UniqueConstraint("unique_text", "field_id"))

    id: Mapped[intpk]
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id"))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    text: Mapped[str] = mapped_column(String(191), default="")
    unique_text: Mapped[str | None] = mapped_column(String(191))


VALUE_MODELS: dict[str, Any] = {FieldSubject.customer.value: CustomerFieldValue,
                                FieldSubject.group.value: GroupFieldValue}
"""Where each subject's values live; `owner_of(model)` names the column of the row they belong to."""


def owner_of(model: Any) -> Any:
    return model.customer_id if model is CustomerFieldValue else model.group_id
