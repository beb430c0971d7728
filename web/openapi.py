"""The OpenAPI 3.1 document served at /api/v1/openapi.json, built from one table of operations."""

from __future__ import annotations

from typing import Any

from models.inbox import InboxStatus

PAGE_PARAMS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


CUSTOMER_FILTERS = [
    _q("staff", {"type": "string"}, "userid of a follower"),
    {**_q("tag", {"type": "array", "items": {"type": "integer"}}, "tag id; repeat it: customers with every tag"),
     "style": "form", "explode": True},
    _q("channel", {"type": "string"}, "channel name, or channel code id"),
    _q("added_from", {"type": "string", "format": "date"}, "a follow relation added on or after this corp-local day"),
    _q("added_to", {"type": "string", "format": "date"}, "… on or before this corp-local day"),
    _q("status", {"enum": ["active", "deleted_by_staff", "deleted_by_customer"]}, "a follow relation's status"),
    _q("owner", {"type": "string"}, "userid of the owner (跟进人)"),
    _q("keyword", {"type": "string"}, "matches name or remark"),
]

CUSTOM_FIELD = {"type": "object", "properties": {
    "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}, "label": {"type": "string", "maxLength": 64},
    "type": {"enum": ["text", "number", "date", "select", "multi_select", "phone"]},
    "options": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 100},
    "required": {"type": "boolean"}, "unique": {"type": "boolean"}, "visible": {"type": "boolean"},
    "order": {"type": "integer"}, "corp_id": {"type": "string"}}}

# (method, path, role, summary, parameters, request body schema)
OPERATIONS: list[tuple[str, str, str, str, list[dict[str, Any]], dict[str, Any] | None]] = [
    ("get", "/events", "admin", "List stored callbacks", PAGE_PARAMS + [
        _q("status", {"enum": [status.value for status in InboxStatus]},
           "invalid: signed and decrypted but no usable event; the reason is in `error`"),
        _q("routing_key", {"type": "string"}, "e.g. change_external_contact/add_external_contact"),
        _q("since", {"type": "string", "format": "date-time"}),
        _q("until", {"type": "string", "format": "date-time"}),
    ], None),
    ("get", "/events/{inbox_id}", "admin", "One stored callback with its decrypted XML", [_id("inbox_id")], None),
    ("post", "/events/{inbox_id}/replay", "admin", "Process a stored callback again", [_id("inbox_id")], None),
    ("get", "/dead-letters", "admin", "Jobs that exhausted their retries", PAGE_PARAMS + [
        _q("job", {"type": "string"}), _q("replayed", {"enum": ["true", "false"]}),
    ], None),
    ("post", "/dead-letters/{dead_letter_id}/replay", "admin", "Run a dead-lettered job again",
     [_id("dead_letter_id")], None),
    ("get", "/customers", "member", "Customers (a member sees only those they follow; mobiles masked for "
     "members while the corp's mask_mobile_for_members is on)", PAGE_PARAMS + CUSTOMER_FILTERS, None),
    ("get", "/customers/{customer_id}", "member",
     "One customer: follow relations with their tags, custom field values, timeline (newest first)",
     [_id("customer_id")], None),
    ("put", "/customers/{customer_id}/fields", "member",
     "Set custom field values (key → value, null clears); 422 names bad fields, 409 a taken unique value",
     [_id("customer_id")], {"type": "object", "additionalProperties": True}),
    ("delete", "/customers/{customer_id}", "super_admin", "Move a customer to the recycle bin (soft delete)",
     [_id("customer_id")], None),
    ("get", "/customers/export.csv", "super_admin",
     "One corp's customers as CSV (UTF-8 with BOM), streamed; the list's filters",
     CUSTOMER_FILTERS + [_q("corp_id", {"type": "string"})], None),
    ("get", "/recycle-bin", "admin", "Customers in the recycle bin, latest deletion first", PAGE_PARAMS + [
        _q("keyword", {"type": "string"}, "name, mobile or remark"),
        _q("deleted_from", {"type": "string", "format": "date"}, "corp-local day, inclusive"),
        _q("deleted_to", {"type": "string", "format": "date"}, "corp-local day, inclusive"),
    ], None),
    ("post", "/recycle-bin/{customer_id}/restore", "admin",
     "Take a customer out of the recycle bin with its relations, tags and field values", [_id("customer_id")], None),
    ("get", "/custom-fields", "member", "Customer custom field definitions (members: the visible ones)",
     [_q("corp_id", {"type": "string"})], None),
    ("post", "/custom-fields", "admin", "Define a customer custom field", [], CUSTOM_FIELD | {
        "required": ["key", "label", "type"]}),
    ("patch", "/custom-fields/{field_id}", "admin",
     "Change a custom field (key and type are fixed; 409 if stored values stand in the way)",
     [_id("field_id")], CUSTOM_FIELD),
    ("delete", "/custom-fields/{field_id}", "admin", "Delete a custom field (its key stays taken)",
     [_id("field_id")], None),
    ("get", "/apps", "super_admin", "Configured WeCom apps (credentials never shown)", PAGE_PARAMS, None),
    ("post", "/apps", "super_admin", "Add a WeCom app", [], {
        "type": "object",
        "required": ["slug", "corp_id", "token", "aes_key", "secret"],
        "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
            "corp_id": {"type": "string"}, "kind": {"enum": ["agent", "contact", "kf"]},
            "token": {"type": "string"}, "aes_key": {"type": "string", "minLength": 43, "maxLength": 43},
            "secret": {"type": "string"}, "agent_id": {"type": "integer"},
        },
    }),
    ("patch", "/apps/{slug}", "super_admin", "Change an app's secret or agent id (a new secret clears broken "
     "credentials: gettoken 40001)", [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
     {"type": "object", "properties": {"secret": {"type": "string"}, "agent_id": {"type": "integer"}}}),
    ("get", "/tag-groups", "member", "Customer tag groups with their tags, colours and descriptions", [], None),
    ("post", "/tag-groups", "admin", "Create a tag group with its tags in WeCom (202: pending add_corp_tag)", [], {
        "type": "object", "required": ["name", "tags"],
        "properties": {
            "name": {"type": "string", "maxLength": 30}, "corp_id": {"type": "string"},
            "tags": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "maxLength": 30},
                               "colour": {"type": "string", "maxLength": 16},
                               "description": {"type": "string", "maxLength": 255}}}},
        },
    }),
    ("patch", "/tags/{tag_pk}", "admin", "Rename a tag (202: edit_corp_tag) or set its colour/description",
     [_id("tag_pk")], {"type": "object", "properties": {
         "name": {"type": "string", "maxLength": 30}, "colour": {"type": "string", "maxLength": 16},
         "description": {"type": "string", "maxLength": 255}}}),
    ("delete", "/tags/{tag_pk}", "admin", "Delete a tag in WeCom (202: del_corp_tag)", [_id("tag_pk")], None),
    ("delete", "/tag-groups/{group_pk}", "admin", "Delete a tag group in WeCom (202: del_corp_tag)",
     [_id("group_pk")], None),
    ("post", "/tags/sync", "admin", "Fetch the whole tag library from WeCom (202)", [], None),
    ("get", "/departments", "admin", "Departments in tree order (depth-first, WeCom's order)", [
        _q("corp_id", {"type": "string"})], None),
    ("get", "/staff", "admin", "Staff members; mobiles masked (138****0000) below super_admin", PAGE_PARAMS + [
        _q("department", {"type": "integer"}, "this department and those below it"),
        _q("status", {"enum": ["active", "disabled", "inactive", "resigned", "out_of_range"]}),
        _q("keyword", {"type": "string"}, "name, userid or position"),
    ], None),
    ("post", "/directory/sync", "admin", "Full sync of departments and staff from WeCom (202)", [],
     {"type": "object", "properties": {"app": {"type": "string", "description": "app slug"},
                                        "corp_id": {"type": "string"}}}),
    ("post", "/customers/{customer_id}/tags", "member", "Tag a customer (mark_tag) for one follower",
     [_id("customer_id")], {"type": "object", "properties": {
         "userid": {"type": "string", "description": "the follower; a member's own by default, required for admins"},
         "add": {"type": "array", "items": {"type": "integer"}},
         "remove": {"type": "array", "items": {"type": "integer"}}}}),
    ("post", "/channel-codes", "admin", "Create a channel code (活码), or one per member with batch_single (202)",
     [], {"type": "object", "required": ["kind", "name", "channel", "members"], "properties": {
         "kind": {"enum": ["single", "batch_single", "multi"]}, "name": {"type": "string"},
         "channel": {"type": "string"}, "scene": {"type": "string", "maxLength": 30},
         "members": {"type": "array", "items": {"type": "string"}},
         "departments": {"type": "array", "items": {"type": "integer"}},
         "backups": {"type": "array", "items": {"type": "string"}},
         "assign_mode": {"enum": ["round_robin", "overflow"]}, "daily_limit": {"type": "integer", "minimum": 1},
         "accept_policy": {"enum": ["auto", "manual", "auto_in_working_hours"]},
         "tag_ids": {"type": "array", "items": {"type": "integer"}}, "remark": {"type": "string"},
         "welcome": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 100},
                                                      "material_ids": {"type": "array", "maxItems": 9}}}}}),
    ("get", "/channel-codes", "admin", "Channel codes with members, status and adds per day", [
        _q("kind", {"type": "string"}), _q("status", {"enum": ["normal", "abnormal"]}),
        _q("scene", {"type": "string"}), _q("staff", {"type": "string"})], None),
    ("get", "/channel-codes/{code_id}", "admin", "One channel code", [_id("code_id")], None),
    ("patch", "/channel-codes/{code_id}", "admin",
     "Change a code's settings, members, backups, tags or welcome (202: update_contact_way); not its kind",
     [_id("code_id")], {"type": "object", "properties": {
         "name": {"type": "string"}, "channel": {"type": "string"}, "scene": {"type": "string", "maxLength": 30},
         "members": {"type": "array", "items": {"type": "string"}},
         "departments": {"type": "array", "items": {"type": "integer"}},
         "backups": {"type": "array", "items": {"type": "string"}},
         "assign_mode": {"enum": ["round_robin", "overflow"]},
         "daily_limit": {"type": ["integer", "null"], "minimum": 1},
         "accept_policy": {"enum": ["auto", "manual", "auto_in_working_hours"]},
         "tag_ids": {"type": "array", "items": {"type": "integer"}}, "remark": {"type": "string"},
         "welcome": {"type": "object", "description": "replaces the code's welcome; {} removes it"}}}),
    ("delete", "/channel-codes/{code_id}", "admin", "Delete a channel code (202: del_contact_way)",
     [_id("code_id")], None),
    ("post", "/welcome-messages", "admin", "A default or per-member welcome, optionally for a time of day", [],
     {"type": "object", "properties": {
         "scope": {"enum": ["default", "staff"]}, "userid": {"type": "string"}, "text": {"type": "string"},
         "material_ids": {"type": "array", "maxItems": 9, "items": {"type": "integer"}},
         "start_minute": {"type": "integer"}, "end_minute": {"type": "integer"}}}),
    ("get", "/welcome-messages", "admin", "Welcome messages", [], None),
    ("delete", "/welcome-messages/{welcome_id}", "admin", "Stop using a default or per-member welcome",
     [_id("welcome_id")], None),
    ("post", "/materials", "admin", "Add an image, link or mini-program to the material library", [],
     {"type": "object", "required": ["kind", "payload"], "properties": {
         "kind": {"enum": ["image", "link", "miniprogram"]}, "title": {"type": "string"},
         "payload": {"type": "object"}}}),
    ("get", "/settings", "admin", "Corp settings (参数设置)", [_q("corp_id", {"type": "string"})], None),
    ("patch", "/settings", "super_admin", "Change corp settings", [], {"type": "object", "properties": {
        "mask_mobile_for_members": {"type": "boolean"}, "recycle_retention_days": {"type": "integer"},
        "notify_manager_on_loss": {"type": "boolean"}}}),
]

_KF_ACCOUNT = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 16}, "media_id": {"type": "string"},
    "rule": {"enum": ["round_robin", "least_busy", "last_receptionist"]},
    "max_sessions": {"type": "integer", "minimum": 1, "maximum": 1000}, "welcome_text": {"type": "string"},
    "corp_id": {"type": "string"}}}
_KNOWLEDGE = {"type": "object", "properties": {
    "question": {"type": "string", "maxLength": 128}, "similar": {"type": "array", "items": {"type": "string"}},
    "answer": {"type": "string", "maxLength": 300}, "category": {"type": "string"}, "enabled": {"type": "boolean"}}}
# WeChat customer service (web/api_kf.py)
OPERATIONS += [
    ("get", "/kf/accounts", "admin", "Customer-service accounts with servicers and scene links", [], None),
    ("post", "/kf/accounts", "admin", "Create a kf account (202: kf/account/add; at most 10 per corp)", [],
     {**_KF_ACCOUNT, "required": ["name", "media_id"]}),
    ("patch", "/kf/accounts/{account_pk}", "admin", "Change a kf account (202 when kf/account/update runs)",
     [_id("account_pk")], _KF_ACCOUNT),
    ("delete", "/kf/accounts/{account_pk}", "admin", "Delete a kf account (202: kf/account/del)",
     [_id("account_pk")], None),
    ("post", "/kf/accounts/{account_pk}/servicers", "admin", "Add receptionists (202: kf/servicer/add)",
     [_id("account_pk")], {"type": "object", "required": ["userids"], "properties": {
         "userids": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string"}}}}),
    ("delete", "/kf/accounts/{account_pk}/servicers/{userid}", "admin",
     "Remove a receptionist, ending their sessions (202: kf/servicer/del)",
     [_id("account_pk"), {"name": "userid", "in": "path", "required": True, "schema": {"type": "string"}}], None),
    ("post", "/kf/accounts/{account_pk}/scenes", "admin", "Add a scene with its own link (202: kf/add_contact_way)",
     [_id("account_pk")], {"type": "object", "required": ["name", "scene"], "properties": {
         "name": {"type": "string"}, "scene": {"type": "string", "pattern": "^[0-9A-Za-z_-]{1,32}$"}}}),
    ("get", "/kf/knowledge", "member", "Knowledge base (话术库) the bot answers from", PAGE_PARAMS + [
        _q("keyword", {"type": "string"}, "part of the question")], None),
    ("post", "/kf/knowledge", "admin", "Add a question with similar questions and its answer", [],
     {**_KNOWLEDGE, "required": ["question", "answer"]}),
    ("patch", "/kf/knowledge/{item_pk}", "admin", "Change a knowledge item", [_id("item_pk")], _KNOWLEDGE),
    ("delete", "/kf/knowledge/{item_pk}", "admin", "Delete a knowledge item", [_id("item_pk")], None),
    ("get", "/kf/settings", "admin", "Conversation rules: closing words, silence, end message, bot threshold",
     [_q("corp_id", {"type": "string"})], None),
    ("put", "/kf/settings", "admin", "Change the conversation rules", [], {"type": "object", "properties": {
        "closing_words": {"type": "array", "items": {"type": "string"}},
        "handover_words": {"type": "array", "items": {"type": "string"}},
        "silence_minutes": {"type": "integer", "minimum": 1}, "end_message": {"type": "string"},
        "bot_threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}}),
    ("get", "/kf/sessions", "admin", "Service sessions with counts, first response and duration", PAGE_PARAMS + [
        _q("state", {"enum": ["new", "bot", "queue", "human", "ended"]}), _q("open_kfid", {"type": "string"}),
        _q("external_userid", {"type": "string"}), _q("servicer", {"type": "string"}),
        _q("session_id", {"type": "string"}), _q("since", {"type": "string", "format": "date-time"}),
        _q("until", {"type": "string", "format": "date-time"})], None),
    ("get", "/kf/sessions/{session_id}", "admin", "One session with its messages",
     [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}], None),
]

_TIME_RANGE = [_q("since", {"type": "string", "format": "date-time"}),
               _q("until", {"type": "string", "format": "date-time"})]
_SENSITIVE_RULE = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 10},
    "words": {"oneOf": [{"type": "string", "maxLength": 500, "description": "words separated by the Chinese comma"},
                        {"type": "array", "items": {"type": "string", "maxLength": 64}}]},
    "category": {"enum": ["positive", "neutral", "negative"]}, "enabled": {"type": "boolean"},
    "corp_id": {"type": "string"}}}
_APP_BODY = {"type": "object", "description": "the message/send body of the msgtype: text and markdown {content}, "
             "textcard {title, description, url, btntxt}, news {articles: [{title, description, url, picurl}]}"}
_TEMPLATE = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 64}, "category": {"enum": ["broadcast", "sensitive_word", "reply_timeout"]},
    "msgtype": {"enum": ["text", "markdown", "textcard", "news"]}, "body": _APP_BODY,
    "variables": {"type": "array", "items": {"type": "string"}, "description": "broadcast templates: the {{names}}"},
    "enabled": {"type": "boolean"}, "corp_id": {"type": "string"}}}
# Conversation oversight (web/api_moderation.py) and search (web/api_messages.py)
OPERATIONS += [  # long work as jobs (web/api_jobs.py)
    ("get", "/jobs", "admin", "Jobs (syncs, exports), newest first, with their progress", PAGE_PARAMS + [
        _q("kind", {"enum": ["directory_sync", "tags_sync", "customers_export"]}),
        _q("state", {"enum": ["queued", "running", "done", "failed"]})], None),
    ("get", "/jobs/{job_id}", "admin", "One job: state, done/total, errors, result", [_id("job_id")], None),
    ("get", "/jobs/{job_id}/download", "super_admin", "An export job's file, once done (409 before)",
     [_id("job_id")], None),
    ("post", "/exports", "super_admin", "Export customers to a file in a job (202; the list's filters)",
     CUSTOMER_FILTERS + [_q("corp_id", {"type": "string"})], None),
]

OPERATIONS += [
    ("get", "/sensitive-rules", "admin", "Sensitive-word rules, newest first", PAGE_PARAMS + [
        _q("keyword", {"type": "string"}, "part of the name"), _q("enabled", {"enum": ["true", "false"]})], None),
    ("post", "/sensitive-rules", "admin", "Add a sensitive-word rule (off unless enabled is given)", [],
     {**_SENSITIVE_RULE, "required": ["name", "words"]}),
    ("patch", "/sensitive-rules/{rule_pk}", "admin", "Change, enable or disable a rule", [_id("rule_pk")],
     _SENSITIVE_RULE),
    ("delete", "/sensitive-rules/{rule_pk}", "admin", "Delete a rule", [_id("rule_pk")], None),
    ("get", "/sensitive-alerts", "admin", "Sensitive words found in stored messages, with the message and review",
     PAGE_PARAMS + [_q("status", {"enum": ["pending", "confirmed", "dismissed"]}),
                    _q("category", {"enum": ["positive", "neutral", "negative"]}), _q("rule_id", {"type": "integer"}),
                    _q("staff", {"type": "string"}), _q("customer", {"type": "string"}, "external_userid")]
     + _TIME_RANGE, None),
    ("patch", "/sensitive-alerts/{alert_pk}", "admin", "Review an alert", [_id("alert_pk")],
     {"type": "object", "required": ["status"], "properties": {
         "status": {"enum": ["pending", "confirmed", "dismissed"]}, "note": {"type": "string", "maxLength": 500}}}),
    ("get", "/moderation/settings", "admin", "Who is alerted, and the reply limit in working minutes",
     [_q("corp_id", {"type": "string"})], None),
    ("put", "/moderation/settings", "admin", "Change the alert recipients and the reply limit", [],
     {"type": "object", "properties": {
         "alert_userids": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
         "alert_notify_sender": {"type": "boolean"}, "reply_timeout_notify": {"type": "boolean"},
         "reply_timeout_minutes": {"type": "integer", "minimum": 0, "maximum": 1440}, "corp_id": {"type": "string"}}}),
    ("get", "/working-hours", "admin", "The corp's working hours (Mon-Fri 09:00-18:00 until set)",
     [_q("corp_id", {"type": "string"})], None),
    ("put", "/working-hours", "admin", "Set the working hours: time ranges per weekday, holidays", [],
     {"type": "object", "required": ["week"], "properties": {
         "week": {"type": "object", "description": "mon..sun → [[\"09:00\", \"12:00\"], [\"13:30\", \"18:00\"]]"},
         "holidays": {"type": "array", "items": {"type": "string", "format": "date"}}, "corp_id": {"type": "string"}}}),
    ("get", "/reply-timeouts", "admin", "Customer messages not answered within the limit, per staff member",
     PAGE_PARAMS + [_q("staff", {"type": "string"}), _q("customer", {"type": "string"}),
                    _q("open_kfid", {"type": "string"})] + _TIME_RANGE, None),
    ("get", "/message-templates", "admin", "App-message templates", PAGE_PARAMS + [
        _q("category", {"enum": ["broadcast", "sensitive_word", "reply_timeout"]}),
        _q("enabled", {"enum": ["true", "false"]}), _q("keyword", {"type": "string"})], None),
    ("post", "/message-templates", "admin", "Add a template ({{variable}} placeholders; at most 3 per notification "
     "category)", [], {**_TEMPLATE, "required": ["name", "category", "msgtype", "body"]}),
    ("patch", "/message-templates/{template_pk}", "admin", "Change a disabled template, or enable/disable one (409 "
     "when editing an enabled one)", [_id("template_pk")], _TEMPLATE),
    ("delete", "/message-templates/{template_pk}", "admin", "Delete a disabled template", [_id("template_pk")], None),
    ("get", "/broadcasts", "admin", "Staff broadcasts with WeCom's delivery result", PAGE_PARAMS + [
        _q("status", {"enum": ["pending", "sent", "failed"]}), _q("created_by", {"type": "string"})], None),
    ("post", "/broadcasts", "admin", "Send an app message to staff (202: message/send)", [],
     {"type": "object", "required": ["name"], "properties": {
         "name": {"type": "string", "maxLength": 64},
         "userids": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
         "departments": {"type": "array", "items": {"type": "integer"}, "maxItems": 100},
         "template_id": {"type": "integer"}, "values": {"type": "object", "additionalProperties": {"type": "string"}},
         "msgtype": {"enum": ["text", "markdown", "textcard", "news"]}, "body": _APP_BODY,
         "corp_id": {"type": "string"}}}),
    ("get", "/broadcasts/{broadcast_pk}", "admin", "One broadcast: status, msgid, invalid users and departments",
     [_id("broadcast_pk")], None),
    ("get", "/messages", "member", "Search conversation messages (members: their own and their customers')",
     PAGE_PARAMS + [_q("customer", {"type": "string"}, "external_userid, or a customer id"),
                    _q("staff", {"type": "string"}, "userid: written by or received in their kf sessions"),
                    _q("open_kfid", {"type": "string"}), _q("session", {"type": "string"}, "kf session id"),
                    _q("source", {"enum": ["kf", "app"]}), _q("q", {"type": "string"}, "text the message contains")]
     + _TIME_RANGE, None),
    # Admin API tokens (web/api_tokens.py)
    ("get", "/tokens", "super_admin", "API tokens (never the token itself); a corp-bound token sees its corp's",
     PAGE_PARAMS, None),
    ("post", "/tokens", "super_admin", "Create a token; the answer shows it once (201)", [],
     {"type": "object", "required": ["name", "role"], "properties": {
         "name": {"type": "string", "maxLength": 64}, "role": {"enum": ["super_admin", "admin", "member"]},
         "userid": {"type": "string"}, "corp_id": {"type": "string"},
         "expires_in": {"type": "string", "description": "90d, 12h, 30m or never; default 90d"},
         "expires_at": {"type": "string", "format": "date-time"}}}),
    ("post", "/tokens/{token_id}/revoke", "super_admin", "Revoke a token: it gets 401 from now on",
     [_id("token_id")], None),
]

ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}}}}}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, role, summary, params, body in OPERATIONS:
        op: dict[str, Any] = {
            "summary": summary,
            "description": f"Needs a token with the {role} role or higher.",
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "401": {"description": "No, unknown, expired or revoked token",
                        "content": {"application/json": {"schema": ERROR}}},
                "403": {"description": "Role too low, or another corp named",
                        "content": {"application/json": {"schema": ERROR}}},
                "413": {"description": "Request body over SCRM_API_MAX_BODY_BYTES",
                        "content": {"application/json": {"schema": ERROR}}},
            },
        }
        if body:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "WeCom SCRM admin API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
