"""The rq worker the service runs (`scrm worker`, or `rq worker -w jobs.worker.Worker ...`): RQ's
SimpleWorker, made to outlive Redis outages and dead schedulers, with each job's request id on every log
line written while it runs (rq's own "Job OK" and failure tracebacks included): the id of the request that
enqueued it (its meta), else the job's id.

What rq 2.x leaves to us:
- its work loop only retries a failed connection while it waits for a job; a Redis error anywhere else
  (the bookkeeping after a job, the heartbeat, the suspension check) ends the worker ("found an
  unhandled exception, quitting"), and a Redis timeout ends it wherever it happens. Here every step of
  the loop waits for Redis with back-off instead, and a job whose outcome could not be recorded is left
  to RQ's abandoned-job cleanup and to the sweeper (jobs check their row's status, so a re-run is safe);
- its scheduler (the process that moves retries and delayed jobs into their queues when due) dies on the
  first Redis error, and the worker only restarts it every 10 minutes (its maintenance interval);
- a scheduler holds a lock per queue with a 61 s TTL that it refreshes every second. A worker SIGKILLed
  leaves its lock behind; the next worker cannot take it at start, and asks again only at its next
  maintenance, 10 minutes on: scheduled retries wait that long. Here the worker checks its scheduler every
  SCHEDULER_CHECK seconds, restarts it when it has died, and takes over a queue's lock that nobody has
  refreshed for STALE_LOCK seconds (its holder is gone). Taking over a live holder's lock is harmless:
  that scheduler sees it lost the lock at its next heartbeat and stops scheduling the queue.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from collections.abc import Callable

import redis.exceptions
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker

from web import logs

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
SCHEDULER_CHECK = 5.0
"""Seconds between checks that this worker's scheduler runs (or another worker's holds the locks)."""
STALE_LOCK = 15.0
"""Seconds without a refresh after which a scheduler lock's holder is taken to be dead."""
WAIT_FIRST, WAIT_MAX = 0.5, 5.0
"""Back-off while Redis is away: the first wait and the longest, in seconds."""
IDLE_WAKE = 5
"""Seconds an idle worker blocks waiting for a job before it looks after its scheduler again."""

# Deletes a scheduler lock whose TTL shows nobody refreshed it for ARGV[1] ms (a live scheduler keeps it
# near its full TTL); the check and the delete are one step, so a holder refreshing meanwhile keeps it.
_DROP_STALE_LOCK = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= 0 and ttl < tonumber(ARGV[1]) then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class Worker(SimpleWorker):
    """SimpleWorker (jobs run in the worker process: no fork and re-import per job) that rides out Redis
    outages and keeps a scheduler running among the workers."""

    _next_scheduler_check = 0.0
    max_connection_wait_time = WAIT_MAX  # RQ's own back-off while it waits for a job grows to 60 s

    @property
    def dequeue_timeout(self) -> int:
        return IDLE_WAKE

    def _until_redis_answers(self, step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one step of the work loop; while Redis is away, wait for it and run the step again."""
        while True:
            try:
                return step(*args, **kwargs)
            except REDIS_DOWN as exc:
                self._wait_for_redis(exc)

    def _wait_for_redis(self, exc: Exception) -> None:
        wait = WAIT_FIRST
        while not self._stop_requested:
            log.warning("worker %s: Redis unavailable (%s); retrying in %.1f s", self.name, type(exc).__name__, wait)
            time.sleep(wait)
            try:
                self.connection.ping()
            except REDIS_DOWN as again:
                exc, wait = again, min(wait * 2, WAIT_MAX)
                continue
            log.info("worker %s: Redis is back", self.name)
            return

    def check_for_suspension(self, burst: bool) -> None:
        self._until_redis_answers(super().check_for_suspension, burst)

    def run_maintenance_tasks(self) -> None:
        self._until_redis_answers(super().run_maintenance_tasks)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        return self._until_redis_answers(super().dequeue_job_and_maintain_ttl, timeout, max_idle_time)

    def execute_job(self, job: Any, queue: Any) -> None:
        """Run the job; if Redis goes away around it, its outcome may not be recorded: not run again here (it
        may have done its work), but left to RQ's abandoned-job cleanup and the sweeper."""
        try:
            with logs.request_scope(job.meta.get("request_id") or job.id):
                super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            log.warning("worker %s: Redis went away around job %s; its outcome may be unrecorded", self.name, job.id)
            self._wait_for_redis(exc)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, which the loop sends between jobs and every IDLE_WAKE s when idle: the moment to
        look after the scheduler too."""
        if pipeline is not None:  # queued on a pipeline inside RQ's own bookkeeping: no round trip here
            super().heartbeat(timeout, pipeline)
            return
        self._until_redis_answers(super().heartbeat, timeout)
        if self.scheduler is not None and time.monotonic() >= self._next_scheduler_check:
            self._next_scheduler_check = time.monotonic() + SCHEDULER_CHECK
            self._until_redis_answers(self._keep_scheduler)

    def _keep_scheduler(self) -> None:
        """Restart this worker's scheduler if it is not running, taking over locks left by dead ones."""
        scheduler = self.scheduler
        assert scheduler is not None
        if self._stop_requested or scheduler._process is not None and scheduler._process.is_alive():
            return  # stopping: the scheduler is being stopped too, not to be restarted
        drop = self.connection.register_script(_DROP_STALE_LOCK)
        fresh_ms = (scheduler.interval + 60 - STALE_LOCK) * 1000  # RQ's lock TTL is interval + 60 s
        for name in sorted(scheduler._queue_names):
            if drop(keys=[RQScheduler.get_locking_key(name)], args=[int(fresh_ms)]):
                log.warning("worker %s: took over the scheduler lock of queue %s from a dead scheduler",
                            self.name, name)
        scheduler.acquire_locks(auto_start=True)
