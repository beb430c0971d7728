"""`create_app()`: the Flask app of the WeCom SCRM service.

`scrm …`, `flask --app app <command>` and gunicorn (`scrm web`) all come through here. The app refuses
to start on a database that is not migrated to head, except for the `db` commands that migrate it; a
database that is down at start-up only defers the check (web/startup.py).
"""

from __future__ import annotations

import sys
from typing import Any
from collections.abc import Mapping

import click
from flask import Flask, jsonify, request

from config import Settings, load_settings


JSON_PREFIXES = ("/api/", "/sidebar/api/")
"""Paths answered in JSON, errors included (the admin API, the sidebar pages' own)."""


def _serving_db_command() -> bool:
    """True when the CLI is loading the app to run `db ...`, which must work un-migrated, or only to list
    its commands (`scrm --help`, which a newcomer runs before migrating).

    Flask gives the factory no hint of the subcommand (the click context has none yet), so read argv.
    """
    if click.get_current_context(silent=True) is None:
        return False
    args, i = sys.argv[1:], 0
    while i < len(args):
        if args[i] in ("--app", "-A", "--env-file", "-e"):
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i] == "db"
    return True


def create_app(test_config: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    import handlers  # noqa: F401  (registers handlers)
    import jobs  # noqa: F401  (registers jobs)
    from jobs.runtime import build_runtime, install
    from migrations.runner import SchemaNotCurrent
    from models.corp import save_app
    from web import api, callback, logs, startup

    logs.configure()
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.from_mapping(SECRET_KEY=settings.secret_key, JSON_AS_ASCII=False)
    if test_config:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese names stay readable in API answers

    runtime = build_runtime(settings)
    install(runtime)
    app.extensions["scrm"] = runtime
    logs.install(app)  # first: a request refused by start-up's 503 still gets its request id

    if not _serving_db_command():
        def finish() -> None:
            if settings.env_app is not None:
                _ensure_env_app(runtime, settings, save_app)

        try:
            startup.install(app, startup.Startup(runtime.engine, finish))
        except SchemaNotCurrent as exc:
            command = click.get_current_context(silent=True)
            if command is None or command.info_name == "web":  # gunicorn's worker (`scrm web` forks in click)
                raise  # a worker boot error: gunicorn's master stops (exit 3) instead of restarting it forever
            raise SystemExit(f"error: {exc}") from None  # a CLI command: the message, no traceback

    from web.endpoint import IdConverter

    app.url_map.converters["id"] = IdConverter  # before any blueprint: routes compile their converters
    app.register_blueprint(callback.bp)
    app.register_blueprint(api.bp)
    from web import api_directory  # departments, staff and the directory sync, its own blueprint
    app.register_blueprint(api_directory.bp)
    from web import api_tags  # the tag admin API, its own blueprint
    app.register_blueprint(api_tags.bp)
    from web import api_contact  # channel codes, welcome messages, materials, corp settings
    app.register_blueprint(api_contact.bp)
    from web import api_customers, api_fields  # customers, recycle bin, export; custom field definitions
    app.register_blueprint(api_customers.bp)
    app.register_blueprint(api_fields.bp)
    from web import api_kf  # WeChat customer service: accounts, rules, sessions
    app.register_blueprint(api_kf.bp)
    from web import api_knowledge, api_library_categories, api_materials  # the sidebar libraries
    app.register_blueprint(api_knowledge.bp)
    app.register_blueprint(api_library_categories.bp)
    app.register_blueprint(api_materials.bp)
    from web import api_messages, api_moderation  # conversation search; sensitive words, timeouts, templates
    app.register_blueprint(api_moderation.bp)
    app.register_blueprint(api_messages.bp)
    from web import api_tokens  # admin API tokens: list, create, revoke
    app.register_blueprint(api_tokens.bp)
    from web import api_jobs  # long work's progress, export files
    app.register_blueprint(api_jobs.bp)
    from web import api_follow_ups, api_opportunities  # sales: follow-up records; opportunities, stages
    app.register_blueprint(api_follow_ups.bp)
    app.register_blueprint(api_opportunities.bp)
    from web import api_plans  # sales: plans (跟进计划) and their reminders
    app.register_blueprint(api_plans.bp)
    from web import api_follow_up_files, api_sales_exports  # follow-ups' files and reminders; sales CSVs
    app.register_blueprint(api_follow_up_files.bp)
    app.register_blueprint(api_sales_exports.bp)
    from web import api_group_tags, api_groups, group_activity  # customer groups: list and detail, tags, activity
    app.register_blueprint(api_groups.bp)
    app.register_blueprint(api_group_tags.bp)
    app.register_blueprint(group_activity.bp)
    from web import api_companies, api_contacts, api_industries  # companies, their contacts, industries
    app.register_blueprint(api_companies.bp)
    app.register_blueprint(api_contacts.bp)
    app.register_blueprint(api_industries.bp)
    from web import api_group_codes, api_group_join_way, api_group_welcome, group_landing  # 群活码, 客户群欢迎语
    app.register_blueprint(api_group_codes.bp)
    app.register_blueprint(api_group_join_way.bp)
    app.register_blueprint(api_group_welcome.bp)
    app.register_blueprint(group_landing.bp)  # the public page a group code's QR opens: /g/<code>
    from web import api_lead_import, api_lead_rules, api_leads  # leads, their import, rules, sources, webhook
    app.register_blueprint(api_leads.bp)
    app.register_blueprint(api_lead_import.bp)
    app.register_blueprint(api_lead_rules.bp)
    from web import api_radar, api_sidebar, radar  # link radar (/r/<code> and its admin API); sidebar config
    app.register_blueprint(radar.bp)
    app.register_blueprint(api_radar.bp)
    app.register_blueprint(api_sidebar.bp)
    from web import api_pool_customers, api_pool_leads, api_pools  # the public pool (公海): pools, reasons, its
    app.register_blueprint(api_pools.bp)                                # customers and leads
    app.register_blueprint(api_pool_customers.bp)
    app.register_blueprint(api_pool_leads.bp)
    from web import sidebar  # the H5 pages in WeCom's chat window: sign-in, JS-SDK, customer profile
    app.register_blueprint(sidebar.bp)
    from web import api_group_sync  # customer groups: the sync from WeCom and its last run
    app.register_blueprint(api_group_sync.bp)
    from web import api_lost_reasons, api_sales_reports, api_targets  # lost reasons; funnel, counts; targets
    app.register_blueprint(api_lost_reasons.bp)
    app.register_blueprint(api_sales_reports.bp)
    app.register_blueprint(api_targets.bp)
    from web import api_transfers  # hand-overs (客户继承), resigned members, automatic inheritance
    app.register_blueprint(api_transfers.bp)
    from web import api_sop, api_tasks  # SOP plans; tasks (任务) and their rounds
    app.register_blueprint(api_sop.bp)
    app.register_blueprint(api_tasks.bp)
    from web import api_mass_messages  # mass messages (群发): audience, preview, schedule, results, monthly cap
    app.register_blueprint(api_mass_messages.bp)
    from web import api_audit, api_roles  # roles, data scopes and seats; the audit log
    app.register_blueprint(api_roles.bp)
    app.register_blueprint(api_audit.bp)
    from web import api_bulk_actions, api_downloads, api_notifications  # download centre, bulk actions, log
    app.register_blueprint(api_downloads.bp)
    app.register_blueprint(api_bulk_actions.bp)
    app.register_blueprint(api_notifications.bp)
    from web import api_segments, api_smart_tags  # smart-tag rules (智能标签); segments (客户分组 / 人群包)
    app.register_blueprint(api_smart_tags.bp)
    app.register_blueprint(api_segments.bp)
    from web import api_tag_library  # issue 17's rules: the tag library's maintenance, bulk tagging
    app.register_blueprint(api_tag_library.bp)
    from web import api_welcome  # editing a welcome (with its group QR code)
    app.register_blueprint(api_welcome.bp)
    from web import api_channel_report, api_channels  # channels (渠道), their report, the codes' QR images
    app.register_blueprint(api_channels.bp)
    app.register_blueprint(api_channel_report.bp)
    from web import api_recycle_losses  # lost customers in the recycle bin, by loss type
    app.register_blueprint(api_recycle_losses.bp)
    from web import api_kf_avatar  # a kf account's avatar uploaded (media/upload)
    app.register_blueprint(api_kf_avatar.bp)
    from web import api_sensitive_review  # sensitive-word hits: CSV, the messages around one, counts per member
    app.register_blueprint(api_sensitive_review.bp)
    from web import api_broadcasts  # staff broadcasts (moved out of api_moderation), now or scheduled
    app.register_blueprint(api_broadcasts.bp)
    from web import api_stats  # statistics (数据管理): customers, staff, groups, the visit rule
    app.register_blueprint(api_stats.bp)
    from web import admin  # the dashboard (仪表盘): token sign-in, charts drawn from the API
    app.register_blueprint(admin.bp)
    from web import api_broadcast_files, api_knowledge_files  # issue 17: kf answers' and broadcasts' media
    app.register_blueprint(api_knowledge_files.bp)
    app.register_blueprint(api_broadcast_files.bp)
    from web import api_task_rounds  # a task's rounds (history) and reminders by hand
    app.register_blueprint(api_task_rounds.bp)

    @app.errorhandler(404)
    def _not_found(exc: Any) -> Any:
        if request.path.startswith(JSON_PREFIXES):
            from werkzeug.exceptions import NotFound

            said = exc.description if exc.description != NotFound.description else "no such endpoint"
            return jsonify({"error": {"code": "not_found", "message": said}}), 404
        return exc

    @app.errorhandler(405)
    def _wrong_method(exc: Any) -> Any:
        if request.path.startswith(JSON_PREFIXES):
            body = {"error": {"code": "method_not_allowed", "message": f"{request.method} is not allowed here"}}
            return jsonify(body), 405, {"Allow": ", ".join(exc.valid_methods or [])}
        return exc

    @app.get("/healthz")
    def healthz() -> Any:
        from sqlalchemy import text

        status = {"db": "ok", "redis": "off" if runtime.redis is None else "ok"}
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            status["db"] = "down"
        if runtime.redis is not None:
            try:
                runtime.redis.ping()
            except Exception:
                status["redis"] = "down"
        healthy = status["db"] == "ok" and status["redis"] != "down"
        body: dict[str, Any] = dict(status)
        if status["db"] == "ok":  # an app whose secret gettoken refused: its effects wait (dead letters)
            body["apps_credentials_broken"] = _broken_apps(runtime)
        return jsonify(body), 200 if healthy else 503

    from web import callback_wsgi  # WeCom's POSTs answered before Flask's dispatch (the hot path)
    callback_wsgi.install(app)

    from cli import register as register_cli

    register_cli(app)
    return app


def _broken_apps(runtime: Any) -> list[str]:
    """Slugs of the apps whose secret gettoken refused (40001); the service does not call WeCom for them."""
    from sqlalchemy import select

    from models import App

    with runtime.Session() as s:
        return list(s.scalars(select(App.slug).where(App.credentials_error.is_not(None)).order_by(App.slug)))


def _ensure_env_app(runtime: Any, settings: Settings, save_app: Any) -> None:
    """Make the environment's app reachable as `/wecom/callback/default` (idempotent; several gunicorn
    workers may do this at once, and the unique slug lets only one insert win)."""
    from sqlalchemy.exc import IntegrityError

    env = settings.env_app
    if env is None:
        return
    fields = {"slug": "default", "corp_id": env.corp_id, "kind": env.kind, "token": env.token,
              "aes_key": env.aes_key, "secret": env.secret, "agent_id": env.agent_id}
    try:
        with runtime.WriteSession.begin() as s:
            save_app(s, fields)
    except IntegrityError:
        pass
