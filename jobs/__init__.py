"""RQ jobs. Importing the package registers every job by name (dead letters are replayed by name)."""

from jobs import (  # noqa: F401  (register their jobs)
    app_messages, bot, channels, directory, events, export, group_codes, group_sync, group_welcome, groups, inherit,
    kf, kf_send, lead_import, maintenance, moderation, notify, outbound, recycle, tags, transfers, unassigned, welcome,
    downloads, bulk_actions,
    kf_avatar,
)
from jobs import mass_results, mass_send  # noqa: F401  (register their jobs)
from jobs import smart_tags  # noqa: F401  (smart tags' runs and their daily run)
from jobs.queue import JOBS, QUEUES, enqueue

__all__ = ["JOBS", "QUEUES", "enqueue"]
