"""Which stage an opportunity may move to (9.9.3): won and lost are terminal; with 允许任意跨越阶段 off a
deal moves only to the next open stage (the last open stage's next is won) or to lost; with
允许输单后重新启动 off a lost deal stays lost. Pure: the API turns a refusal into a 409."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    id: int
    outcome: str  # open, won, lost


def refusal(stages: list[Stage], current: int, target: int, *, allow_skip: bool, allow_reopen: bool) -> str | None:
    """Why `current` → `target` is refused, or None. `stages`: the corp's, open ones in their order."""
    by_id = {s.id: s for s in stages}
    now, to = by_id[current], by_id[target]
    if current == target:
        return "the opportunity is at that stage already"
    if now.outcome == "won":
        return "a won opportunity is final"
    if now.outcome == "lost":
        if not allow_reopen:
            return "a lost opportunity is final in this corp (allow_reopen_lost is off)"
        return None if to.outcome == "open" else "a lost opportunity reopens at an open stage"
    if allow_skip or to.outcome == "lost":
        return None
    ladder = [s.id for s in stages if s.outcome == "open"] + [s.id for s in stages if s.outcome == "won"]
    if ladder.index(current) + 1 < len(ladder) and ladder[ladder.index(current) + 1] == target:
        return None
    return "this corp allows only the next stage (allow_stage_skip is off)"
