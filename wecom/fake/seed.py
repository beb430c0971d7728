"""What POST /fake/seed (and ``FakeState(seed)``) accepts, checked whole before anything is applied.

Keys: ``corps`` (corpid, secrets: secret -> agentid), ``users`` (corpid, userid, any user/get fields),
``departments`` (corpid, id, name, parentid, order, department_leader, name_en) and ``external_contacts``
(corpid, external_contact{external_userid, ...}, follow_user[...]).
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

_SEED_KEYS = frozenset({"corps", "users", "external_contacts", "departments"})


class SeedError(ValueError):
    """Seed data has the wrong shape; raised before anything is applied, so a bad seed changes nothing."""


class _ParsedSeed(NamedTuple):
    corps: list[tuple[str, dict[str, int]]]
    users: list[dict[str, Any]]
    externals: list[dict[str, Any]]
    departments: list[dict[str, Any]]


def parse_seed(data: Any) -> _ParsedSeed:
    """Validate a seed payload and return its records as fresh copies."""
    if not isinstance(data, dict):
        raise SeedError("seed must be a JSON object")
    unknown = set(data) - _SEED_KEYS
    if unknown:
        raise SeedError(f"unknown seed keys {sorted(unknown)}; expected some of {sorted(_SEED_KEYS)}")
    data = copy.deepcopy(data)
    return _ParsedSeed(
        corps=[_parse_corp(corp) for corp in _records(data, "corps")],
        users=[_require(user, "users", "corpid", "userid") for user in _records(data, "users")],
        externals=[_parse_external(record) for record in _records(data, "external_contacts")],
        departments=[_parse_department(dept) for dept in _records(data, "departments")],
    )


def _records(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The list under ``key`` (empty if absent), checked to hold only objects."""
    records = data.get(key, [])
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise SeedError(f"{key!r} must be a list of objects")
    return records


def _require(record: dict[str, Any], where: str, *keys: str) -> dict[str, Any]:
    """``record`` itself, after checking that each of ``keys`` is a non-empty string."""
    for key in keys:
        if not isinstance(record.get(key), str) or not record[key]:
            raise SeedError(f"every entry of {where!r} needs a non-empty string {key!r}: {record!r}")
    return record


def _parse_corp(corp: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """(corpid, secret -> agentid) from a ``corps`` entry."""
    _require(corp, "corps", "corpid")
    secret_map = corp.get("secrets", {})
    if not isinstance(secret_map, dict) or not all(
            isinstance(secret, str) and isinstance(agentid, int) for secret, agentid in secret_map.items()):
        raise SeedError(f"corp {corp['corpid']!r}: 'secrets' must map secret strings to integer agentids")
    return corp["corpid"], secret_map


def _parse_external(record: dict[str, Any]) -> dict[str, Any]:
    """An ``external_contacts`` entry, with ``follow_user`` defaulting to an empty list."""
    _require(record, "external_contacts", "corpid")
    contact = record.get("external_contact")
    if not isinstance(contact, dict):
        raise SeedError(f"external contact entry needs an 'external_contact' object: {record!r}")
    _require(contact, "external_contacts[].external_contact", "external_userid")
    follow_user = record.setdefault("follow_user", [])
    if not isinstance(follow_user, list):
        raise SeedError(f"external contact {contact['external_userid']!r}: 'follow_user' must be a list")
    return record


def _parse_department(dept: dict[str, Any]) -> dict[str, Any]:
    """A ``departments`` entry as department/list shows it (plus ``corpid``), defaults filled in."""
    _require(dept, "departments", "corpid", "name")
    record = {"corpid": dept["corpid"], "id": dept.get("id"), "name": dept["name"],
              "name_en": dept.get("name_en", ""), "department_leader": dept.get("department_leader", []),
              "parentid": dept.get("parentid", 0), "order": dept.get("order", 0)}
    if not all(is_int(record[key]) for key in ("id", "parentid", "order")):
        raise SeedError(f"department {dept!r}: 'id', 'parentid' and 'order' must be integers")
    if not isinstance(record["department_leader"], list):
        raise SeedError(f"department {dept['id']!r}: 'department_leader' must be a list of userids")
    return record


def is_int(value: Any) -> bool:
    """An integer that is not a bool (JSON true would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)
