"""Periodic jobs for `rq cron jobs.cron` (one cron process per deployment): the sweeper every minute, the
recycle-bin purge and the unclaimed uploads' (jobs.attachments) every hour, the customer-service silence
sweep (jobs.kf.kf_tick) every minute, plan reminders (jobs.bot.remind_plans_job) every minute, channel codes
back from their backups (jobs.channels.reroute_codes_job) and group channel codes' status
(jobs.group_codes.group_codes_recheck_job) every 5 minutes, reply timeouts (jobs.moderation.reply_timeouts_job)
every minute, a full customer-group sync of every corp (jobs.group_sync.sync_all_groups_job) every 6 hours, the
link radar's batched digests (jobs.radar.radar_digest_job) every minute, hand-overs' polls and held groups
(jobs.transfers.transfers_tick) and the 10:00 automatic inheritance (jobs.inherit.inherit_job, claimed once a
corp-local day) every 5 minutes, the public pool's daily recycle scan (jobs.pool_scan.pool_scan_job, each corp
once per local day) hourly; SOP steps and date plans (jobs.sop.sop_tick), tasks' rounds and deadline warnings
(jobs.tasks.tasks_tick), and mass messages due and recent mass messages' results (jobs.mass_send.mass_messages_tick)
every minute, the download centre's files past their 7 days (jobs.downloads.purge_downloads_job) hourly, the
smart tags' time-based rules (jobs.smart_tags.smart_tags_daily_job, each corp once per local day) hourly,
scheduled staff broadcasts (jobs.broadcasts.send_due_broadcasts) every minute, WeCom's daily
statistics (jobs.stats_sync.stats_sync_job, each corp once per local day) hourly."""

from rq import cron

from jobs.attachments import purge_unclaimed_job
from jobs.bot import remind_plans_job
from jobs.downloads import purge_downloads_job
from jobs.channels import REROUTE_EVERY, reroute_codes_job
from jobs.group_codes import RECHECK_EVERY, group_codes_recheck_job
from jobs.group_sync import SYNC_EVERY, sync_all_groups_job
from jobs.inherit import INHERIT_EVERY, inherit_job
from jobs.kf import kf_tick
from jobs.maintenance import sweep_job
from jobs.mass_send import mass_messages_tick
from jobs.moderation import reply_timeouts_job
from jobs.pool_scan import pool_scan_job
from jobs.radar import radar_digest_job
from jobs.stats_sync import stats_sync_job
from jobs.recycle import purge_recycle_bin_job
from jobs.smart_tags import smart_tags_daily_job
from jobs.transfers import TICK_EVERY, transfers_tick
from jobs.sop import sop_tick
from jobs.tasks import tasks_tick
from jobs.broadcasts import send_due_broadcasts

cron.register(sweep_job, queue_name="maintenance", interval=60)
cron.register(purge_recycle_bin_job, queue_name="maintenance", interval=3600)
cron.register(purge_unclaimed_job, queue_name="maintenance", interval=3600)
cron.register(kf_tick, queue_name="maintenance", interval=60)
cron.register(remind_plans_job, queue_name="maintenance", interval=60)
cron.register(reroute_codes_job, queue_name="maintenance", interval=int(REROUTE_EVERY.total_seconds()))
cron.register(reply_timeouts_job, queue_name="maintenance", interval=60)
cron.register(group_codes_recheck_job, queue_name="maintenance", interval=int(RECHECK_EVERY.total_seconds()))
cron.register(sync_all_groups_job, queue_name="maintenance", interval=SYNC_EVERY)
cron.register(radar_digest_job, queue_name="maintenance", interval=60)
cron.register(transfers_tick, queue_name="maintenance", interval=int(TICK_EVERY.total_seconds()))
cron.register(inherit_job, queue_name="maintenance", interval=int(INHERIT_EVERY.total_seconds()))
cron.register(pool_scan_job, queue_name="maintenance", interval=3600)
cron.register(sop_tick, queue_name="maintenance", interval=60)
cron.register(tasks_tick, queue_name="maintenance", interval=60)
cron.register(mass_messages_tick, queue_name="maintenance", interval=60)
cron.register(purge_downloads_job, queue_name="maintenance", interval=3600)
cron.register(smart_tags_daily_job, queue_name="maintenance", interval=3600)
cron.register(send_due_broadcasts, queue_name="maintenance", interval=60)
cron.register(stats_sync_job, queue_name="maintenance", interval=3600)
