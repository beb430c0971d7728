"""`rq cron jobs.cron` finds every periodic job (sweeper, recycle-bin purge, unclaimed uploads, plan reminders,
customer-service tick, channel-code re-routing, group-code re-checks, reply timeouts, the customer-group sync, the
radar's digests, hand-overs, automatic inheritance, the download centre's purge) on the maintenance queue."""

from __future__ import annotations


def test_cron_config_registers_the_periodic_jobs() -> None:
    from redis import Redis
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=Redis())  # not contacted: loading the config only registers jobs
    scheduler.load_config_from_file("jobs.cron")
    jobs = {(job.func.__name__, job.queue_name, job.interval) for job in scheduler.get_jobs()}
    assert jobs == {("sweep_job", "maintenance", 60), ("purge_recycle_bin_job", "maintenance", 3600),
                    ("remind_plans_job", "maintenance", 60), ("kf_tick", "maintenance", 60),
                    ("reroute_codes_job", "maintenance", 300), ("reply_timeouts_job", "maintenance", 60),
                    ("purge_unclaimed_job", "maintenance", 3600),
                    ("group_codes_recheck_job", "maintenance", 300),
                    ("sync_all_groups_job", "maintenance", 6 * 3600), ("radar_digest_job", "maintenance", 60),
                    ("transfers_tick", "maintenance", 300), ("inherit_job", "maintenance", 300),
                    ("pool_scan_job", "maintenance", 3600),
                    ("sop_tick", "maintenance", 60), ("tasks_tick", "maintenance", 60),
                    ("mass_messages_tick", "maintenance", 60),
                    ("purge_downloads_job", "maintenance", 3600),
                    ("smart_tags_daily_job", "maintenance", 3600),
                    ("pool_scan_job", "maintenance", 3600), ("send_due_broadcasts", "maintenance", 60),
                    ("stats_sync_job", "maintenance", 3600)}
