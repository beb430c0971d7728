"""Periodic jobs for `rq cron jobs.cron` (one cron process per deployment)."""

from rq import cron

from jobs.maintenance import sweep_job

cron.register(sweep_job, queue_name="maintenance", interval=60)
