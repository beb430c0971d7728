"""WeCom's per-minute blocks, remembered across jobs: after one refusal (45009, 45033) of a corp's effect,
that effect's other rows wait the block out without calling.

WeCom blocks an API for the rest of its minute once the corp passes the limit, and counts refused calls
too (docs/PROTOCOL.md §4): every row that still calls into the block is refused, and keeps the block going.
A burst of effects used to meet it row by row (one refusal per row over the limit; with several rows in
flight per `deliver_batch`, and the rows retried into a window their own refusals kept full, twice that).
Now the first refusal is remembered for its `retry_after` (Redis, shared by every worker; a dict in this
process without Redis) and `deliver_here` / `deliver_outbox` defer the effect's rows until then, without
calling and without counting an attempt.

The block is kept per effect, not per API: an effect is known before its call, the API only from the
refusal, and an effect's calls go to one API or a few that move together (sync_customer:
externalcontact/get, then user/get).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from jobs.runtime import Runtime
from wecom.client import RATE_LIMITED, WeComError

Blocked = tuple[str, str]
"""(corp id, effect name)."""


class Deferred(WeComError):
    """An effect not called because an earlier call of it was refused within the block: handled like that
    refusal (re-scheduled for `seconds` on, no retry spent), but no call was made."""

    def __init__(self, effect: str, seconds: float) -> None:
        super().__init__(min(RATE_LIMITED), f"not called: {effect} is blocked for {seconds:.0f} s more", effect)
        self.seconds = seconds

    @property
    def retry_after(self) -> float:
        return self.seconds


def _key(blocked: Blocked) -> str:
    return f"scrm:wecom-blocked:{blocked[0]}:{blocked[1]}"


def remember(runtime: Runtime, blocked: Blocked, seconds: float) -> None:
    """WeCom refused `blocked`'s call: its rows wait `seconds` (from now: a later refusal extends the block,
    as WeCom's own does)."""
    if runtime.redis is not None:
        runtime.redis.set(_key(blocked), 1, px=max(int(seconds * 1000), 1))
    else:
        runtime.local.setdefault("wecom_blocked", {})[blocked] = time.monotonic() + seconds


def waits(runtime: Runtime, candidates: Iterable[Blocked]) -> dict[Blocked, float]:
    """Those of `candidates` still blocked → seconds left (one round trip for all of them)."""
    wanted = sorted(set(candidates))
    if not wanted:
        return {}
    if runtime.redis is not None:
        with runtime.redis.pipeline(transaction=False) as pipe:
            for blocked in wanted:
                pipe.pttl(_key(blocked))
            left = [ms / 1000 if ms > 0 else 0.0 for ms in pipe.execute()]
    else:
        until = runtime.local.get("wecom_blocked", {})
        now = time.monotonic()
        left = [until.get(blocked, now) - now for blocked in wanted]
    return {blocked: seconds for blocked, seconds in zip(wanted, left, strict=True) if seconds > 0}
