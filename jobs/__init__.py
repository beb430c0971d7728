"""RQ jobs. Importing the package registers every job by name (dead letters are replayed by name)."""

from jobs import bot, channels, directory, events, export, kf, maintenance, moderation  # noqa: F401  (register their jobs)
from jobs import notify, outbound, recycle, tags, welcome  # noqa: F401  (register their jobs)
from jobs.queue import JOBS, QUEUES, enqueue

__all__ = ["JOBS", "QUEUES", "enqueue"]
