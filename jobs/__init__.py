"""RQ jobs. Importing the package registers every job by name (dead letters are replayed by name)."""

from jobs import (  # noqa: F401  (register their jobs)
    app_messages, bot, channels, directory, events, export, group_codes, group_sync, group_welcome, groups, inherit,
    kf, kf_send, lead_import, maintenance, moderation, notify, outbound, recycle, tags, transfers, unassigned, welcome,
    tag_bulk, kf_avatar,
)
from jobs.queue import JOBS, QUEUES, enqueue

__all__ = ["JOBS", "QUEUES", "enqueue"]
