"""What a reader may see of a phone number (001 参数设置: 电话号码隐藏)."""

from __future__ import annotations


def mask_mobile(mobile: str) -> str:
    """138****0000: the first three and last four digits stay; short numbers are hidden whole."""
    if not mobile:
        return ""
    if len(mobile) < 8:
        return "*" * len(mobile)
    return f"{mobile[:3]}****{mobile[-4:]}"
