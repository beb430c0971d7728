"""Every route of the Flask url map × every role × a token bound to corp B and one for every corp, with two
corps whose staff share userids (tests/two_corps.py): no cross-corp read or write, no role escalation
(issue 19).

Routes are taken from `app.url_map`, so a new route is in the matrix without anyone adding it: its path
parameters are filled with ids of corp A's rows (PARAMS), its body names corp A (BODIES add what a
route needs to get past validation). A route the matrix cannot exercise must be in NOT_IN_MATRIX with the
reason; a route neither exercisable nor listed fails the test.

What each cell asserts:
- never a 5xx;
- a role below the route's (`@require`) gets 403 and nothing changes anywhere;
- a member token without a corp is refused (403) while several corps exist;
- a token bound to corp B, whatever its role, gets no byte of corp A's data (MARK[A] or A's corp id) and
  changes none of corp A's rows.

The routes are dealt into SHARDS fixed shards (by a CRC of method and endpoint, as tests/unit/test_api_fuzz.py
deals its operations), each its own test item with its own two corps, so pytest-xdist spreads them over its
workers; as one item the matrix was the suite's longest (~120 s on one worker). A digest of the database
(`fingerprint`) is computed again only after a statement that may write ran (`Fingerprints`): most cells
write nothing, and reading every table two or three times per cell was most of the matrix's time.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Table, event, select

from models import ApiToken, Base
from two_corps import CHAT, CORP_A, CORP_B, MARK, QR_IMAGE, build
from web.auth import RANK, create_token, hash_token

# path parameter → the key of corp A's row in two_corps.build's ids; per endpoint where the name is not enough
PARAMS = {"inbox_id": "inbox_id", "dead_letter_id": "dead_letter_id", "customer_id": "customer_id",
          "field_id": "field_id", "tag_pk": "tag_pk", "group_pk": "group_pk", "code_id": "code_id",
          "welcome_id": "welcome_id", "account_pk": "account_pk", "item_pk": "item_pk", "session_id": "session_id",
          "rule_pk": "rule_pk", "alert_pk": "alert_pk", "template_pk": "template_pk", "broadcast_pk": "broadcast_pk",
          "token_id": "token_id", "job_id": "job_id", "userid": "zhangsan", "slug": "default",
          "follow_up_id": "follow_up_id", "type_id": "type_id", "stage_id": "stage_id", "opportunity_id": "opportunity_id",
          "plan_id": "plan_id", "chat_id": "chat_id", "tag_group_id": "tag_group_id", "group_tag_id": "group_tag_id",
          "company_id": "company_id", "contact_id": "contact_id", "industry_id": "industry_id",
          "group_code_id": "group_code_id", "entry_id": "entry_id", "group_welcome_id": "group_welcome_id",
          "lead_id": "lead_id", "lead_rule_id": "lead_rule_id", "lead_source_id": "lead_source_id",
          "reason_id": "reason_id", "target_id": "target_id", "category_id": "category_id",
          "material_id": "material_id", "component_id": "component_id", "transfer_id": "transfer_id",
          "pool_id": "pool_id",
          "sop_id": "sop_id", "step_id": "step_id", "task_id": "task_id",
          "message_id": "message_id", "role_id": "role_id",
          "download_id": "download_id", "bulk_id": "bulk_id",
          "rule_id": "smart_tag_rule_id", "segment_id": "segment_id",
          "channel_id": "channel_id",
          "round_id": "task_round_id"}
PARAMS_BY_ENDPOINT = {("api_customers.restore_customer", "customer_id"): "binned_id",
                      ("api_radar.put_auto_tag", "material_id"): "link_material_id",  # radar: a link material
                      ("api_radar.material_stats", "material_id"): "link_material_id",
                      ("api_pools.update_reason", "reason_id"): "return_reason_id",  # a pool's, not a lost deal's
                      ("api_pools.delete_reason", "reason_id"): "return_reason_id",
                      **{(f"api_pool_customers.{view}", "customer_id"): "pooled_id"
                         for view in ("claim_customer", "assign_customer", "delete_pool_customer", "pool_history")},
                      ("api_pool_leads.claim_lead", "lead_id"): "pooled_lead_id"}
LITERAL_PARAMS = {"userid", "slug"}

# Routes whose body may not name a corp (the row named in the path has one): corp_id there is a 422 before
# the corp check is reached.
NO_CORP_IN_BODY = {"api.update_app_config"}

# What a route needs in its body to get past validation to where the corp matters (corp_id is always A's).
BODIES: dict[str, dict[str, Any]] = {
    "api.create_app_config": {"slug": "evil", "kind": "agent", "token": "EvilToken1", "secret": "s",
                              "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "agent_id": 1},
    "api.update_app_config": {"secret": "evil-secret"},
    "api_fields.create_field": {"key": "evil", "label": "evil", "type": "text"},
    "api_fields.update_field": {"label": "evil"},
    "api_customers.put_fields": {"kaamarkaa": "evil"},
    "api_tags.tag_customer": {"add": ["tag_pk"], "userid": "zhangsan"},
    "api_tags.create_group": {"name": "evil", "tags": [{"name": "evil"}]},
    "api_tags.update_tag": {"name": "evil", "colour": "red"},
    "api_contact.create_codes": {"kind": "single", "name": "evil", "channel": "evil", "members": ["zhangsan"],
                                 "backups": ["lisi"]},
    "api_contact.edit_code": {"name": "evil"},
    "api_contact.create_welcome": {"text": "evil"},
    "api_contact.patch_settings": {"recycle_retention_days": 5},
    "api_directory.sync_directory": {"app": "default"},
    "api_kf.create_account": {"name": "evil", "media_id": "M"},
    "api_kf.update_account": {"name": "evil"},
    "api_kf.add_scene": {"name": "evil", "scene": "evil"},
    "api_kf.add_servicers": {"userids": ["lisi"]},
    "api_knowledge.create_knowledge": {"question": "evil", "answer": "evil"},
    "api_knowledge.update_knowledge": {"answer": "evil"},
    "api_library_categories.create_category": {"section": "qa", "name": "evil"},
    "api_library_categories.update_category": {"name": "evil"},
    "api_materials.create_material": {"kind": "link", "payload": {"url": "https://evil"}},
    "api_materials.update_material": {"title": "evil"},
    "api_kf.put_settings": {"end_message": "evil"},
    "api_moderation.create_rule": {"name": "evil", "words": "evil"},
    "api_moderation.update_rule": {"enabled": False},
    "api_moderation.review_alert": {"status": "confirmed"},
    "api_moderation.put_moderation_settings": {"reply_timeout_minutes": 5},
    "api_moderation.put_working_hours": {"week": {"mon": [["09:00", "18:00"]]}},
    "api_moderation.create_template": {"name": "evil", "category": "broadcast", "msgtype": "text",
                                       "body": {"content": "evil"}},
    "api_moderation.update_template": {"enabled": False},
    "api_broadcasts.create_broadcast": {"name": "evil", "userids": ["zhangsan"], "msgtype": "text",
                                        "body": {"content": "evil"}},
    "api_tokens.create_api_token": {"name": "evil", "role": "super_admin"},
    "api_follow_ups.create_follow_up": {"customer_id": "customer_id", "text": "evil", "userid": "zhangsan",
                                        "type_id": "type_id"},
    "api_follow_ups.create_type": {"name": "evil"},
    "api_opportunities.create_stage": {"name": "evil"},
    "api_opportunities.update_stage": {"name": "evil"},
    "api_opportunities.create_opportunity": {"customer_id": "customer_id", "name": "evil", "stage_id": "stage_id",
                                     "amount_cents": 1, "expected_close": "2026-12-31", "owner": "zhangsan"},
    "api_opportunities.update_opportunity": {"name": "evil"},
    "api_group_codes.create_group_code": {"name": "evil", "channel": "evil", "owner": "zhangsan"},
    "api_group_codes.edit_group_code": {"name": "evil"},
    "api_group_codes.add_group": {"chat_id": CHAT[CORP_A], "qr_image": QR_IMAGE},
    "api_group_codes.change_group": {"qr_image": QR_IMAGE},
    "api_group_codes.order_groups": {"entry_ids": ["entry_id"]},
    "api_group_join_way.put_join_way": {"chat_ids": [CHAT[CORP_A]], "room_base_name": "evil"},
    "api_group_welcome.create_template": {"text": "evil"},
    "api_group_welcome.edit_template": {"text": "evil"},
    "api_opportunities.move_opportunity": {"stage_id": "stage_id"},
    "api_plans.create": {"customer_id": "customer_id", "text": "evil", "starts_at": "2026-12-01T01:00:00Z",
                         "userid": "zhangsan"},
    "api_plans.edit": {"text": "evil"},
    "api_groups.put_group_fields": {"gaamarkaa": "evil"},
    "api_group_tags.create_tag_group": {"name": "evil", "tags": [{"name": "evil"}]},
    "api_group_tags.update_tag_group": {"name": "evil"},
    "api_group_tags.create_tag": {"name": "evil"},
    "api_group_tags.update_tag": {"name": "evil"},
    "api_group_tags.tag_groups": {"chat_ids": [CHAT[CORP_A]], "add": []},  # add: corp A's tag (body_for_a)
    "api_group_activity.put_rule": {"window_days": 2},
    "api_transfers.create": {"kind": "serving", "handover_userid": "zhangsan", "takeover_userid": "lisi",
                             "external_userids": ["wmevil"], "message": "evil"},
    "api_transfers.put_rule": {"position": "evil"},
    "api_companies.create_company": {"name": "evil", "industry_id": "industry_id"},
    "api_companies.update_company": {"name": "evil"},
    "api_companies.add_customers": {"customer_ids": ["customer_id"]},
    "api_contacts.create_contact": {"name": "evil", "company_id": "company_id"},
    "api_contacts.update_contact": {"name": "evil"},
    "api_industries.create_industry": {"name": "evil"},
    "api_industries.rename_industry": {"name": "evil"},
    "api_leads.create_lead": {"name": "evil"},
    "api_leads.update_lead": {"name": "evil"},
    "api_leads.tag_leads": {"lead_ids": ["lead_id"], "add": []},  # add: corp A's tag (body_for_a)
    "api_leads.assign_leads": {"lead_ids": ["lead_id"], "userids": ["zhangsan"]},
    "api_leads.link_lead": {"customer_id": "customer_id"},
    "api_lead_rules.create_rule": {"name": "evil", "targets": ["zhangsan"]},
    "api_lead_rules.update_rule": {"name": "evil"},
    "api_lead_rules.create_source": {"name": "evil"},
    "api_lost_reasons.create_lost_reason": {"name": "evil"},
    "api_lost_reasons.update_lost_reason": {"name": "evil"},
    "api_targets.create_target": {"userid": "zhangsan", "period": "month", "date": "2026-10-01", "amount_cents": 1},
    "api_targets.update_target": {"amount_cents": 666},
    "api_pools.create_pool": {"name": "evil"},
    "api_pools.update_pool": {"name": "evil"},
    "api_pools.create_reason": {"name": "evil"},
    "api_pools.update_reason": {"name": "evil"},
    "api_pools.put_pool_settings": {"claim_limit": 1},
    "api_pool_customers.return_customer": {"customer_id": "customer_id", "reason_id": "return_reason_id",
                                           "userid": "zhangsan"},
    "api_pool_customers.claim_customer": {"userid": "zhangsan"},
    "api_pool_customers.assign_customer": {"userid": "zhangsan"},
    "api_pool_leads.claim_lead": {"userid": "zhangsan"},
    "api_sop.create_plan": {"name": "evil", "trigger": "customer_added",
                            "steps": [{"name": "evil", "hours_after": 1, "messages": [{"type": "text", "text": "evil"}]}]},
    "api_sop.edit_plan": {"name": "evil"},
    "api_sop.add_step": {"name": "evil", "hours_after": 1, "messages": [{"type": "text", "text": "evil"}]},
    "api_sop.edit_step": {"name": "evil", "hours_after": 1, "messages": [{"type": "text", "text": "evil"}]},
    "api_tasks.create_task": {"name": "evil", "content": "evil", "userids": ["zhangsan"]},
    "api_tasks.done": {"userid": "zhangsan"},
    "api_mass_messages.create": {"text": "evil", "draft": True},
    "api_mass_messages.edit": {"text": "evil", "draft": True},
    "api_mass_messages.put_settings": {"monthly_cap": 1},
    "api_roles.create_role": {"name": "evil"},
    "api_roles.update_role": {"name": "evil"},
    "api_roles.add_role_members": {"userids": ["zhangsan"]},
    "api_roles.put_seats": {"limit": 1},
    "api_roles.put_system": {"on": False},
    "api_bulk_actions.create_bulk_action": {"kind": "delete", "ids": []},  # ids: corp A's customer (body_for_a)
    "api_tag_library.add_tags": {"tags": [{"name": "evil"}]},
    "api_tag_library.update_group": {"name": "evil", "exclusive": True},
    "api_welcome.update_welcome": {"text": "evil"},
    "api_channels.create_channel": {"name": "evil", "scene": "evil"},
    "api_channels.update_channel": {"name": "evil"},
}
# body keys whose value names a row of corp A (a key of its ids)
REFS = {"customer_id", "stage_id", "type_id", "company_id", "industry_id", "reason_id"}

NOT_IN_MATRIX = {
    "/wecom/callback/<slug>": "WeCom's callback: authenticated by the app's signature, not a token "
                              "(test_callback; a callback's corp is its app's)",
    "/healthz": "liveness: no token, no corp data (db and redis up or down)",
    "/api/v1/openapi.json": "the API's description: public, no corp data",
    "/static/<path:filename>": "Flask's static files: none are served",
    "/r/<code>": "a radar link's public redirect: no token (whoever opens is a customer), the unguessable code "
                 "names the link (test_radar: unknown and malformed codes are 404s, never a redirect elsewhere)",
    "/r/<code>/beacon": "the radar's beacon: no token, bound to its open by a signed cookie (test_radar)",
    "/r/beacon.js": "the radar's beacon script: no token, rendered for this browser's own open (test_radar)",
    "/g/<slug>": "a group code's public landing page: no token (whoever scans is a customer), the unguessable "
                 "code names the corp (test_group_codes: unknown and deleted codes are 404s)",
    "/api/v1/inbound/leads": "web sites push leads signed by a lead source's secret, not a token; the source names "
                             "the corp (test_lead_inbound: bad, old and unknown signatures are 401s, nothing stored)",
    "/admin/": "the dashboard's page: signed in by its session cookie, holds no figures (its script reads the API "
               "above, where the cookie stands for the token: test_admin_dashboard)",
    "/admin/login": "the dashboard's sign-in form: takes a token, checked as the API checks it (test_admin_dashboard)",
    "/admin/logout": "ends the dashboard's session (its CSRF token: test_admin_dashboard)",
    "/admin/static/<path:filename>": "the dashboard's script, stylesheet and vendored Chart.js: public, no data",
    "/admin/login/wecom": "sends the browser to WeCom to sign in to the dashboard: no data (test_admin_wecom_signin)",
    "/admin/oauth/callback": "WeCom's redirect back: authenticated by state and code, the member's corp is the "
                             "app's (test_admin_wecom_signin: refusals, roles, scope)",
}

# Sidebar routes are authenticated by a WeCom sign-in session, not a token: their scope (a member's own
# customers, in the member's corp) and their 401/redirect and CSRF answers are tested route by route from
# the url map in tests/unit/test_sidebar_signin.py and tests/unit/test_sidebar_customer.py.
SESSION_PREFIX = "/sidebar"

# (role, corp bound to, userid); None: a token for every corp (a member's is a row from before the rule)
TOKENS = [("super_admin", CORP_B, None), ("admin", CORP_B, None), ("member", CORP_B, "zhangsan"),
          ("member", None, "zhangsan"), ("admin", None, None), ("super_admin", None, None)]
SKIPPED_TABLES = {"audit_log"}  # every API write adds audit rows


def fingerprint(runtime: Any, corp: str | None) -> str:
    """A digest of `corp`'s rows (None: every row): tables with a corp_id column by it, their child
    tables through the foreign key, apps through their corp."""
    digest = hashlib.sha256()
    with runtime.Session() as s:
        corp_pks: dict[str, set[Any]] = {}
        for table in Base.metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            query = select(table)
            if corp is not None:
                where = _corp_rows(table, corp, corp_pks)
                if where is None:
                    continue
                query = query.where(where)
            rows = list(s.execute(query))
            corp_pks[table.name] = {r.id for r in rows} if "id" in table.c else set()
            digest.update(f"{table.name}:{sorted(repr(tuple(r)) for r in rows)}".encode())
    return digest.hexdigest()


class Fingerprints:
    """`fingerprint(runtime, corp)`, kept until a statement that may write runs on any engine of this
    process (the test client's requests and their inline jobs run here; none of these routes writes
    through a raw driver connection). Anything but a plain read counts as a write, so a cached digest is
    never one a change could have made stale."""

    READS = ("SELECT", "PRAGMA", "SHOW", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.cache: dict[str | None, str] = {}

    def __call__(self, corp: str | None) -> str:
        if corp not in self.cache:
            self.cache[corp] = fingerprint(self.runtime, corp)
        return self.cache[corp]

    def statement(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(self.READS):
            self.cache.clear()


@pytest.fixture
def fingerprints(runtime) -> Iterator[Fingerprints]:  # type: ignore[no-untyped-def]
    watch = Fingerprints(runtime)
    event.listen(Engine, "before_cursor_execute", watch.statement)
    yield watch
    event.remove(Engine, "before_cursor_execute", watch.statement)


def _corp_rows(table: Table, corp: str, corp_pks: dict[str, set[Any]]) -> Any:
    if table.name == "corps":
        return table.c.corp_id == corp
    if "corp_id" in table.c:
        return table.c.corp_id == corp
    for fk in table.foreign_keys:
        parent = fk.column.table.name
        if parent in corp_pks:
            return fk.parent.in_(corp_pks[parent])
    return None


def routes(app: Any) -> Iterator[tuple[str, str, str]]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, method, rule.endpoint


def url_for_a(rule: Any, endpoint: str, ids: dict[str, Any]) -> str | None:
    """The route's URL with corp A's ids in it; None when a parameter has no row to name."""
    path = rule
    for converter, name in _params(rule):
        key = PARAMS_BY_ENDPOINT.get((endpoint, name)) or PARAMS.get(name)
        if key is None:
            return None
        value = key if name in LITERAL_PARAMS else ids[key]
        path = path.replace(f"<{converter}{name}>", str(value))
    return path


def _params(rule: str) -> list[tuple[str, str]]:
    out = []
    for part in rule.split("<")[1:]:
        inner = part.split(">")[0]
        converter, _, name = inner.rpartition(":")
        out.append((f"{converter}:" if converter else "", name))
    return out


def body_for_a(endpoint: str, ids: dict[str, Any]) -> dict[str, Any]:
    body = {**({} if endpoint in NO_CORP_IN_BODY else {"corp_id": CORP_A}), **BODIES.get(endpoint, {})}
    if "add" in body:
        body["add"] = [ids[CORP_A]["tag_pk"]]
    if "customer_ids" in body:
        body["customer_ids"] = [ids[CORP_A]["customer_id"]]
    if "entry_ids" in body:
        body["entry_ids"] = [ids[CORP_A]["entry_id"]]
    if "lead_ids" in body:
        body["lead_ids"] = [ids[CORP_A]["lead_id"]]
    if "ids" in body:
        body["ids"] = [ids[CORP_A]["customer_id"]]
    return {key: ids[CORP_A][value] if key in REFS else value for key, value in body.items()}


@pytest.fixture
def world(app, client, runtime, fake_wecom) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with runtime.WriteSession.begin() as s:
        ops = {"Authorization": "Bearer " + create_token(s, "seeder", "super_admin")}
    ids = build(client, runtime, fake_wecom, ops)
    headers = {}
    with runtime.WriteSession.begin() as s:
        for role, corp, userid in TOKENS:
            if role == "member" and corp is None:  # refused at creation now: the row an older version wrote
                s.add(ApiToken(name="legacy", role=role, token_hash=hash_token("legacy-member"), userid=userid))
                value = "legacy-member"
            else:
                value = create_token(s, f"{role}-{corp}", role, userid=userid, corp_id=corp)
            headers[(role, corp)] = {"Authorization": f"Bearer {value}"}
    return {"ids": ids, "headers": headers}


def test_the_matrix_reaches_data(client, world) -> None:  # type: ignore[no-untyped-def]
    """The tokens work and the rows exist: corp B's member sees their customer, an all-corps admin both."""
    b_member = client.get("/api/v1/customers", headers=world["headers"][("member", CORP_B)]).get_data(as_text=True)
    assert MARK[CORP_B] in b_member and MARK[CORP_A] not in b_member
    everyone = client.get("/api/v1/customers", headers=world["headers"][("admin", None)]).get_data(as_text=True)
    assert MARK[CORP_A] in everyone and MARK[CORP_B] in everyone


def exercisable(app: Any, ids: dict[str, Any]) -> tuple[list[tuple[str, str, str, Any]], list[str]]:
    """(method, url with corp A's ids, endpoint, required role) of every route not in NOT_IN_MATRIX, and
    what is wrong with each route that can be neither exercised nor is listed."""
    cells, problems = [], []
    for rule, method, endpoint in routes(app):
        if rule in NOT_IN_MATRIX or rule.startswith(SESSION_PREFIX):
            continue
        required = getattr(app.view_functions[endpoint], "required_role", None)
        url = url_for_a(rule, endpoint, ids)
        if required is None or url is None:
            problems.append(f"{method} {rule}: not exercisable (no @require, or a path parameter PARAMS does "
                            f"not know); add it to PARAMS or NOT_IN_MATRIX with the reason")
        else:
            cells.append((method, url, endpoint, required))
    return cells, problems


SHARDS = 4


def in_shard(method: str, endpoint: str, shard: int) -> bool:
    return zlib.crc32(f"{method} {endpoint}".encode()) % SHARDS == shard


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda n: f"shard{n}")
def test_every_route_every_role_no_cross_corp_reach(app, client, world, fingerprints, shard) -> None:  # type: ignore[no-untyped-def]
    cells, problems = exercisable(app, world["ids"][CORP_A])
    assert len(cells) > 70  # the API's routes and methods (77 today)
    assert set(NOT_IN_MATRIX) <= {rule.rule for rule in app.url_map.iter_rules()}  # no stale excuses
    if shard:
        problems = []  # the routes that are neither exercisable nor listed: reported once, by shard 0
    cells = [cell for cell in cells if in_shard(cell[0], cell[2], shard)]
    a_before = fingerprints(CORP_A)
    for role, corp, _ in TOKENS:  # bound tokens first: all-corps tokens may change corp A's rows
        headers = world["headers"][(role, corp)]
        for method, url, endpoint, required in cells:
            denied = RANK[role] < RANK[required.value] or (role == "member" and corp is None)
            everything = fingerprints(None) if denied else None
            r = client.open(url, method=method, headers=headers, query_string={"corp_id": CORP_A},
                            json=None if method == "GET" else body_for_a(endpoint, world["ids"]))
            cell = f"{role}@{corp or 'every corp'} {method} {url} → {r.status_code}"
            text = r.get_data().decode(errors="replace")  # a file or QR image comes as bytes
            if r.status_code >= 500:
                problems.append(f"{cell}: server error")
            if denied and (r.status_code != 403 or fingerprints(None) != everything):
                problems.append(f"{cell}: expected 403 and no change ({text[:120]})")
            if corp == CORP_B:
                if MARK[CORP_A] in text or CORP_A in text:
                    problems.append(f"{cell}: shows corp A's data ({text[:160]})")
                if fingerprints(CORP_A) != a_before:
                    problems.append(f"{cell}: changed corp A's rows")
                    a_before = fingerprints(CORP_A)
    assert not problems, "\n".join(problems)


def test_a_new_route_is_in_the_matrix_or_fails_it(settings, world) -> None:  # type: ignore[no-untyped-def]
    from app import create_app
    from models import Role
    from web.auth import require

    fresh = create_app({"TESTING": True}, settings=settings)
    fresh.add_url_rule("/api/v1/customers/<int:customer_id>/notes", "notes", require(Role.member)(lambda **_: ""))
    fresh.add_url_rule("/api/v1/widgets/<int:widget_id>", "widgets", require(Role.admin)(lambda **_: ""))
    cells, problems = exercisable(fresh, world["ids"][CORP_A])
    assert ("GET", f"/api/v1/customers/{world['ids'][CORP_A]['customer_id']}/notes", "notes", Role.member) in cells
    assert [p.partition(": not exercisable")[0] for p in problems] == ["GET /api/v1/widgets/<int:widget_id>"]
    fresh.extensions["scrm"].engine.dispose()
