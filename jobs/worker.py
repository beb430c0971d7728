"""The rq worker class `scrm worker` runs: rq's SimpleWorker (jobs in the worker process, no fork and
re-import per job, see README), with each job's request id on every log line written while it runs,
rq's own "Job OK" and failure tracebacks included: the id of the request that enqueued it (its meta),
else the job's id."""

from __future__ import annotations

from typing import Any

from rq.worker import SimpleWorker

from web import logs


class Worker(SimpleWorker):
    def execute_job(self, job: Any, queue: Any) -> None:
        with logs.request_scope(job.meta.get("request_id") or job.id):
            super().execute_job(job, queue)
