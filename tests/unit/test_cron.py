"""`rq cron jobs.cron` finds the sweeper, every 60 s, on the maintenance queue."""

from __future__ import annotations


def test_cron_config_registers_the_sweeper() -> None:
    from redis import Redis
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=Redis())  # not contacted: loading the config only registers jobs
    scheduler.load_config_from_file("jobs.cron")
    [job] = scheduler.get_jobs()
    assert (job.func.__name__, job.queue_name, job.interval) == ("sweep_job", "maintenance", 60)
