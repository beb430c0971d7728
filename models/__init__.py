"""SQLAlchemy 2.0 models, one module per aggregate. Importing the package registers every table."""

from models.auth import ApiToken, AuditLog, Role
from models.channels import ChannelCode, ChannelDailyStat, ChannelMember
from models.corp import App, AppKind, Corp
from models.customer import Customer, FollowRelation, FollowStatus
from models.db import Base
from models.dead_letter import DeadLetter
from models.directory import Department
from models.fields import CustomerFieldValue, CustomField, FieldSubject, GroupFieldValue
from models.inbox import Inbox, InboxStatus
from models.job_run import JobRun, JobState
from models.outbox import Outbox, OutboxStatus
from models.settings import CorpSettings
from models.staff import MemberTag, Staff
from models.tags import FollowTag, Tag, TagGroup
from models.timeline import CustomerEvent
from models.welcome import Material, WelcomeLog, WelcomeMessage
from models.conversation import Message
from models.kf import KfAccount, KfCursor, KfScene, KfServicer, KfSession, KfSettings
from models.knowledge import KnowledgeItem
from models.library import LibraryCategory
from models.bot import BotReply, ReplyVia
from models.groups import CustomerGroup, GroupMember, GroupStatus, JoinScene, MemberType
from models.group_tags import GroupTag, GroupTagging, GroupTagGroup
from models.group_activity import GroupActivityRule
from models.group_codes import (GroupCode, GroupCodeDailyStat, GroupCodeEntry, GroupCodeStrategy, GroupJoinWay,
                                GroupWelcomeTemplate)
from models.followup import FollowUp, FollowUpType, Plan
from models.follow_up_links import FollowUpAttachment, FollowUpReminder
from models.sales import (LostReason, Opportunity, OpportunityStage, SalesTarget, StageChange, StageOutcome,
                          TargetPeriod)
from models.transfer import InheritRule, ItemStatus, Transfer, TransferItem, TransferKind
from models.lead import Lead, LeadChange, LeadStatus, LeadTag
from models.lead_rules import InboundRequest, LeadRule, LeadSource
from models.pool import Pool, PoolAction, PoolMove, PoolReturnReason, PoolScan
from models.orgs import Company, Contact, Industry
from models.moderation import (Broadcast, MessageTemplate, ModerationSettings, ReplyTimeout, SensitiveAlert,
                               SensitiveRule, WorkCalendar)
from models.radar import RadarLink, RadarOpen, RadarSettings, RadarTagged, RadarTagRule
from models.sidebar import SidebarComponent, SidebarConfig
from models.mass_message import MassMessage, MassMessageSend, MassRecipient, MassStatus, RecipientStatus
from models.access import AccessRole, MemberRole, MemberSeat
from models.operations import BulkAction, BulkItem, Download, DownloadKind, NotificationLog
from models.segments import Segment, SegmentKind, SegmentMember
from models.smart_tags import SmartTagHit, SmartTagRule, SmartTagScan
from models.channel_sources import Channel
from models.stats import BehaviorDay, GroupChatDay, StatsSync, VisitSettings

__all__ = [
    "ApiToken", "App", "AppKind", "AuditLog", "Base", "ChannelCode", "ChannelDailyStat", "ChannelMember", "Corp",
    "CorpSettings", "Customer", "CustomerEvent", "CustomerFieldValue", "CustomField", "DeadLetter", "Department",
    "FollowRelation", "FollowStatus", "FollowTag", "Inbox", "InboxStatus", "JobRun", "JobState", "Material",
    "MemberTag", "Outbox", "OutboxStatus", "Role", "Staff", "Tag", "TagGroup", "WelcomeLog", "WelcomeMessage",
    "KfAccount", "KfCursor", "KfScene", "KfServicer", "KfSession", "KfSettings", "KnowledgeItem", "Message",
    "LibraryCategory",
    "BotReply", "FollowUp", "FollowUpAttachment", "FollowUpReminder", "FollowUpType", "Lead", "LeadStatus", "Plan",
    "ReplyVia", "Company", "Contact", "Industry",
    "LostReason", "Opportunity", "OpportunityStage", "SalesTarget", "StageChange", "StageOutcome", "TargetPeriod",
    "Broadcast", "MessageTemplate", "ModerationSettings", "ReplyTimeout", "SensitiveAlert", "SensitiveRule",
    "WorkCalendar", "CustomerGroup", "GroupMember", "GroupStatus", "JoinScene", "MemberType",
    "FieldSubject", "GroupFieldValue", "GroupTag", "GroupTagging", "GroupTagGroup", "GroupActivityRule",
    "InboundRequest", "LeadChange", "LeadRule", "LeadSource", "LeadTag",
    "GroupCode", "GroupCodeDailyStat", "GroupCodeEntry", "GroupCodeStrategy", "GroupJoinWay", "GroupWelcomeTemplate",
    "RadarLink", "RadarOpen", "RadarSettings", "RadarTagged", "RadarTagRule", "SidebarComponent", "SidebarConfig",
    "InheritRule", "ItemStatus", "Transfer", "TransferItem", "TransferKind",
    "Pool", "PoolAction", "PoolMove", "PoolReturnReason", "PoolScan",
    "MassMessage", "MassMessageSend", "MassRecipient", "MassStatus", "RecipientStatus",
    "AccessRole", "MemberRole", "MemberSeat",
    "BulkAction", "BulkItem", "Download", "DownloadKind", "NotificationLog",
    "Segment", "SegmentKind", "SegmentMember", "SmartTagHit", "SmartTagRule", "SmartTagScan",
    "Channel",
    "BehaviorDay", "GroupChatDay", "StatsSync", "VisitSettings",
]
from models.sop import RunStatus, SopDateScan, SopEnrolment, SopPlan, SopRun, SopStep, SopTrigger, StepVia
from models.tasks import AssignmentStatus, FollowUpCycle, Repeat, Task, TaskAssignment, TaskKind, TaskRound

__all__ += ["RunStatus", "SopDateScan", "SopEnrolment", "SopPlan", "SopRun", "SopStep", "SopTrigger", "StepVia",
            "AssignmentStatus", "FollowUpCycle", "Repeat", "Task", "TaskAssignment", "TaskKind", "TaskRound"]
from models.smart_tags import SmartTagGroupHit  # noqa: E402

__all__ += ["SmartTagGroupHit"]
