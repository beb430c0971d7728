"""Which real group a group channel code (群活码, manual 004 §3.1) shows a scanner, and what its parts may hold.

A group is usable while its QR has not expired, the group still exists and it has fewer than GROUP_CAP
members (a group joined through a QR code holds 200). Overflow (溢出) fills the groups in the admin's order;
round robin (轮流) shows each usable group in turn; nearest expiry shows the usable group whose QR expires
first, so no code is wasted. No usable group: the code is abnormal (异常).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

GROUP_CAP = 200
QR_LIFETIME_DAYS = 7  # a WeCom group QR code lasts 7 days
MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
STRATEGIES = ("overflow", "round_robin", "nearest_expiry")


@dataclass(frozen=True)
class Candidate:
    entry_id: int
    members: int
    expires_at: dt.datetime
    dismissed: bool = False

    def usable(self, now: dt.datetime) -> bool:
        return not self.dismissed and self.members < GROUP_CAP and self.expires_at > now


def pick(entries: list[Candidate], strategy: str, cursor: int, now: dt.datetime) -> tuple[Candidate | None, int]:
    """The group to show now among `entries` (in the admin's order) and the round-robin cursor after it."""
    usable = [e for e in entries if e.usable(now)]
    if not usable:
        return None, cursor
    if strategy == "round_robin":
        n = len(entries)
        for step in range(n):
            index = (cursor + step) % n
            if entries[index].usable(now):
                return entries[index], (index + 1) % n
    if strategy == "nearest_expiry":
        return min(usable, key=lambda e: e.expires_at), cursor
    return usable[0], cursor


def image_type(data: bytes) -> str | None:
    """image/png or image/jpeg by the file's first bytes (what it claims to be is not asked)."""
    return next((kind for magic, kind in IMAGE_TYPES.items() if data.startswith(magic)), None)


def decode_image(text: str) -> tuple[bytes, str]:
    """The QR image an admin uploaded as base64: (bytes, MIME type). ValueError says what is wrong."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("base64 of a PNG or JPEG image") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB ({len(data)} bytes given)")
    kind = image_type(data)
    if kind is None:
        raise ValueError("a PNG or JPEG image")
    return data, kind


def expiry_problem(day: dt.date, today: dt.date) -> str | None:
    """What is wrong with a QR expiring at the end of `day` (corp-local), uploaded `today`."""
    if day < today:
        return "already past"
    if day > today + dt.timedelta(days=QR_LIFETIME_DAYS):
        last = today + dt.timedelta(days=QR_LIFETIME_DAYS)
        return f"a WeCom group QR code lasts {QR_LIFETIME_DAYS} days: at most {last.isoformat()}"
    return None


# -- WeCom's limits on a group welcome template (group_welcome_template/add, doc 92366) ---------------------
TEMPLATE_TEXT_BYTES = 3000
LINK_TITLE_BYTES = 128
LINK_DESC_BYTES = 512
MINIPROGRAM_TITLE_BYTES = 64
MAX_TEMPLATES = 100  # a corp's group welcome library holds 100


def template_problems(text: str, attachment: dict[str, dict[str, str]] | None) -> dict[str, str]:
    """Field → problem for a template of `text` and `attachment` (send_welcome_msg's shape, one item)."""
    problems: dict[str, str] = {}
    if not text.strip() and attachment is None:
        problems["text"] = "a group welcome needs text or a material"
    if len(text.encode("utf-8")) > TEMPLATE_TEXT_BYTES:
        problems["text"] = f"at most {TEMPLATE_TEXT_BYTES} bytes in UTF-8 (a Chinese character takes 3)"
    if attachment is not None:
        link, mini = attachment.get("link"), attachment.get("miniprogram")
        if link is not None and not 0 < len(link["title"].encode("utf-8")) <= LINK_TITLE_BYTES:
            problems["material_id"] = f"a link's title: 1 to {LINK_TITLE_BYTES} bytes"
        elif link is not None and len(link["desc"].encode("utf-8")) > LINK_DESC_BYTES:
            problems["material_id"] = f"a link's description: at most {LINK_DESC_BYTES} bytes"
        if mini is not None and not 0 < len(mini["title"].encode("utf-8")) <= MINIPROGRAM_TITLE_BYTES:
            problems["material_id"] = f"a mini-program's title: 1 to {MINIPROGRAM_TITLE_BYTES} bytes"
    return problems
