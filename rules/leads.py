"""A lead's own fields (线索, 004 §4.7): the mobile as stored, the genders, the import's columns."""

from __future__ import annotations

import re

MOBILE_CHARS = re.compile(r"[\s\-()（）]")
MOBILE_DIGITS = re.compile(r"^\d{6,20}$")
GENDERS = {"": "", "男": "male", "女": "female", "male": "male", "female": "female", "未知": ""}


def normal_mobile(raw: str) -> str:
    """The mobile as stored: spaces, dashes and brackets dropped, a leading + or 0086/+86 country code kept
    as digits only; 6 to 20 digits, else ValueError. Empty stays empty (a lead may have no mobile)."""
    text = MOBILE_CHARS.sub("", raw or "")
    if text.startswith("+"):
        text = text[1:]
    if not text:
        return ""
    if not MOBILE_DIGITS.match(text):
        raise ValueError("6 to 20 digits (spaces, dashes, brackets and a leading + are dropped)")
    return text


def normal_gender(raw: str) -> str:
    """male, female or "" (unknown), from the API's words or the import's 男/女/未知."""
    value = (raw or "").strip()
    if value not in GENDERS:
        raise ValueError("男, 女, 未知 (or male, female, empty)")
    return GENDERS[value]


# the import template's columns, in order: header → lead attribute
IMPORT_COLUMNS = {"姓名": "name", "手机号": "mobile", "性别": "gender", "公司": "company", "职位": "position",
                  "来源渠道": "source", "标签": "tags"}
