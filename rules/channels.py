"""Who a channel code (员工活码) sends the next customer to (manual 004 §3.2).

WeCom routes a multi-person "联系我" code among its `user` list at random, so the service owns the
decision: after each add it computes the list the code should have and rewrites it (update_contact_way)
when it changed. Round-robin hands the code to the next available member in turn; overflow keeps the
first available member until their daily limit. Members at their limit or no longer active are skipped;
when no member is available the backup members take over; with no backup either the code is abnormal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assignment:
    users: tuple[str, ...]
    next_index: int
    abnormal: bool
    using_backups: bool


def assign(members: list[str], backups: list[str], mode: str, next_index: int, daily_limit: int | None,
           adds_today: dict[str, int], active: set[str]) -> Assignment:
    """The users the code should route to now. `next_index` is the round-robin cursor into `members`."""
    def available(userid: str) -> bool:
        return userid in active and (daily_limit is None or adds_today.get(userid, 0) < daily_limit)

    if members:
        n = len(members)
        order = [members[(next_index + i) % n] for i in range(n)] if mode == "round_robin" else members
        for userid in order:
            if available(userid):
                cursor = (members.index(userid) + 1) % n if mode == "round_robin" else next_index
                return Assignment((userid,), cursor, False, False)
    standby = tuple(u for u in backups if u in active)
    if standby:
        return Assignment(standby, next_index, False, True)
    return Assignment((), next_index, True, False)


KINDS = ("single", "batch_single", "multi")
MODES = ("round_robin", "overflow")
POLICIES = ("auto", "manual", "auto_in_working_hours")
MAX_MEMBERS = 100


def code_errors(fields: dict, members: list[str], backups: list[str]) -> dict[str, str]:
    """Field → problem for a channel-code definition (manual 004 §3.2); `members` already has departments
    expanded."""
    errors: dict[str, str] = {}
    if not str(fields.get("name") or "").strip() or len(str(fields.get("name"))) > 64:
        errors["name"] = "required, at most 64 characters"
    if fields.get("kind") not in KINDS:
        errors["kind"] = f"one of {', '.join(KINDS)}"
    if len(str(fields.get("scene") or "")) > 30:
        errors["scene"] = "at most 30 characters"
    if len(str(fields.get("remark") or "")) > 30:
        errors["remark"] = "at most 30 characters"
    if not str(fields.get("channel") or "").strip():
        errors["channel"] = "required"
    if not members:
        errors["members"] = "at least one member"
    elif fields.get("kind") == "single" and len(members) != 1:
        errors["members"] = "a single-member code has exactly one member"
    elif len(members) > MAX_MEMBERS:
        errors["members"] = f"at most {MAX_MEMBERS} members, departments expanded"
    if not backups:
        errors["backups"] = "at least one backup member"
    if fields.get("assign_mode", "round_robin") not in MODES:
        errors["assign_mode"] = f"one of {', '.join(MODES)}"
    if fields.get("accept_policy", "auto") not in POLICIES:
        errors["accept_policy"] = f"one of {', '.join(POLICIES)}"
    limit = fields.get("daily_limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        errors["daily_limit"] = "a whole number of at least 1, or null for no limit"
    return errors
