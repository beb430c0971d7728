"""Run one bench against an older commit and this tree, alternately, and print both sides' figures.

    python tests/bench/compare.py --base 0cfe7d3 [--runs 3] BENCH.py [bench args...]
    e.g. python tests/bench/compare.py --base 0cfe7d3 --runs 3 bench_contact.py --n 600 --rate 20 \\
             --backlog 1000 --feed-rate 300

Why: the targets of issue 18 say "no worse than today", and one bench run on a 2-core box is noise (bench_kf's
p99 spread 127-434 ms over runs of one tree). A claim needs the two trees measured in the same sitting,
alternately, several times, and compared by their medians; this does that the same way each time.

The older commit is checked out as a detached git worktree (`--base-dir`, default /tmp/scrm-bench-<commit>),
and this tree's `tests/bench/*.py` and `tests/statements.py` are copied over its own, so both sides run the same
bench code against their own service code (PYTHONPATH set to each tree; `rq worker`s and gunicorn inherit it).
Rounds alternate which side goes first, so a box that slows down over the sitting weighs on both.

Figures are taken from each run's output by `--pick LABEL=REGEX` (one group, a number), by default the lines
bench_contact, bench_kf and bench_ingress print for issue 18's targets. Each run's full output is kept in
`--logs` (default /tmp/scrm-compare). Exits 1 if a run printed none of the figures, 2 if the worktree
could not be made.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parents[2]

DEFAULT_PICKS = {
    "welcome p99 from received_at (s)": r"callback received \(inbox\.received_at\) -> welcome sent:.*p99 ([0-9.]+) s",
    "welcome p99 from the POST (s)": r"callback posted by the bench -> welcome sent:.*p99 ([0-9.]+) s",
    "kf answer p99 (ms)": r"callback → bot answer .*p99 ([0-9.]+) ms",
    "processed (events/s)": r"inbox and outbox drained: .*= ([0-9.]+) events/s",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the older commit (anything `git worktree add` takes)")
    ap.add_argument("--base-dir", type=Path, help="where its worktree goes (default /tmp/scrm-bench-<commit>)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side (default 3)")
    ap.add_argument("--pick", action="append", default=[], metavar="LABEL=REGEX",
                    help="a figure to read from each run's output (replaces the defaults)")
    ap.add_argument("--logs", type=Path, default=Path("/tmp/scrm-compare"), help="each run's output goes here")
    ap.add_argument("bench", help="a script in tests/bench, e.g. bench_contact.py")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="passed to the bench")
    args = ap.parse_args()
    picks = dict(p.split("=", 1) for p in args.pick) if args.pick else DEFAULT_PICKS
    try:
        base_tree = _worktree(args.base, args.base_dir)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"could not make a worktree of {args.base}: {exc}", file=sys.stderr)
        return 2
    args.logs.mkdir(parents=True, exist_ok=True)
    sides = {f"base {args.base}": base_tree, "this tree": TREE}
    figures: dict[str, dict[str, list[float]]] = {side: {label: [] for label in picks} for side in sides}
    blank = 0
    for n in range(args.runs):
        order = list(sides) if n % 2 == 0 else list(reversed(sides))
        for side in order:
            log = args.logs / f"{'tree' if sides[side] == TREE else 'base'}-{n + 1}.log"
            out = _run(sides[side], args.bench, args.args, log)
            found = {label: float(m.group(1)) for label, rx in picks.items() if (m := re.search(rx, out))}
            for label, value in found.items():
                figures[side][label].append(value)
            blank += not found
            print(f"run {n + 1} {side}: " + ", ".join(f"{label} {value:g}" for label, value in found.items()), flush=True)
    print()
    print(f"== {args.bench} {' '.join(args.args)}: {args.runs} runs each, alternated")
    for label in picks:
        old, new = (figures[side][label] for side in sides)
        if not old and not new:
            continue
        line = f"{label}: base median {_median(old)} ({_list(old)}), this tree median {_median(new)} ({_list(new)})"
        if old and new and statistics.median(old):
            line += f", ratio {statistics.median(new) / statistics.median(old):.2f}"
        print(line)
    return 1 if blank else 0


def _worktree(commit: str, where: Path | None) -> Path:
    """A detached worktree of `commit` with this tree's bench code copied in (made once, refreshed each time)."""
    sha = subprocess.run(["git", "-C", str(TREE), "rev-parse", "--short", commit], check=True,
                         capture_output=True, text=True).stdout.strip()
    path = where or Path(f"/tmp/scrm-bench-{sha}")
    if not (path / ".git").exists():
        subprocess.run(["git", "-C", str(TREE), "worktree", "add", "-q", "--detach", str(path), sha], check=True)
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    if head != sha:  # a --base-dir left at another commit would measure the wrong tree
        raise OSError(f"{path} is at {head}, not {sha}")
    for script in (TREE / "tests" / "bench").glob("*.py"):
        shutil.copy2(script, path / "tests" / "bench" / script.name)
    shutil.copy2(TREE / "tests" / "statements.py", path / "tests" / "statements.py")
    return path


def _run(tree: Path, bench: str, bench_args: list[str], log: Path) -> str:
    """One run of the bench from `tree` with that tree's code first on the path; its output, also kept in `log`."""
    proc = subprocess.run([sys.executable, str(tree / "tests" / "bench" / bench), *bench_args], cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    log.write_text(proc.stdout + proc.stderr)
    return proc.stdout + proc.stderr


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
