"""SQLAlchemy 2.0 models, one module per aggregate. Importing the package registers every table."""

from models.auth import ApiToken, AuditLog, Role
from models.corp import App, AppKind, Corp
from models.customer import Customer, FollowRelation, FollowStatus
from models.db import Base
from models.dead_letter import DeadLetter
from models.inbox import Inbox, InboxStatus
from models.outbox import Outbox, OutboxStatus
from models.staff import Staff

__all__ = [
    "ApiToken", "App", "AppKind", "AuditLog", "Base", "Corp", "Customer", "DeadLetter", "FollowRelation",
    "FollowStatus", "Inbox", "InboxStatus", "Outbox", "OutboxStatus", "Role", "Staff",
]
