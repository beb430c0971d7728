"""The bot's command registry: who answers `/客户 王小明`, and the reply to anything else a staff member
types that looks like a command.

A command is a plain function `(BotContext, args) -> str`, registered with its words
(`@command("客户", usage=..., summary=...)`, python-telegram-bot's shape). A word written with a leading
slash (`/help`) only counts when typed with one; a Chinese keyword (`客户`) counts with or without it.
Typed text that does not start with a slash or a keyword is chat, not a command, and gets no answer.
Every command answers: a bad argument raises `UsageError` (answered with the reason and the usage line),
a refusal raises `CommandError` (answered with its message); an unknown slash command gets a pointer to
/help. Nothing here talks to WeCom: effects go through `ctx.outbox`, like any handler's.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.parse import split_command
from models import Role
from models.access import member_access

# WeCom's text limit (message/send content: 2048 bytes); a passive reply is held to the same.
MAX_REPLY_BYTES = 2048


class CommandError(Exception):
    """The command cannot do what was asked; the message is the whole answer."""


class UsageError(CommandError):
    """The arguments are wrong; the answer is the message and the command's usage line."""


@dataclass
class BotContext:
    """Who asked, where, and when (`now` is aware, in the corp's time zone). `source` names the command
    message (`inbox:<id>`), so rows and outbox keys it writes are once-only for that message."""

    session: Session
    corp_id: str
    app_pk: int
    userid: str
    role: str
    now: dt.datetime
    source: str
    outbox: Callable[..., Any]
    inbox_id: int | None = None

    @property
    def is_member(self) -> bool:
        return self.role == Role.member.value

    @functools.cached_property
    def visible_userids(self) -> frozenset[str] | None:
        """Whose customers the caller sees: their roles' data scopes (models/access.py, the admin API's
        web/access.py `visible_userids` for a member); None: the whole corp (an admin, or scope `all`)."""
        return None if not self.is_member else member_access(self.session, self.corp_id, self.userid).userids

    @property
    def actor(self) -> str:
        """How the audit log and tag rows name a change made by command."""
        return self.userid


Handler = Callable[[BotContext, str], str]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    fn: Handler


COMMANDS: dict[str, Command] = {}  # by canonical name, in registration (= help) order
_WORDS: dict[str, tuple[Command, bool]] = {}  # typed word (no slash, lower case) -> (command, needs a slash)


def command(*words: str, usage: str, summary: str) -> Callable[[Handler], Handler]:
    """Register `fn` under `words`; the first one, without its slash, is the command's name."""

    def register(fn: Handler) -> Handler:
        spec = Command(words[0].lstrip("/"), usage, summary, fn)
        COMMANDS[spec.name] = spec
        for word in words:
            key = word.lstrip("/").lower()
            if key in _WORDS:
                raise ValueError(f"command word {word!r} is registered twice")
            _WORDS[key] = (spec, word.startswith("/"))
        return fn

    return register


@dataclass(frozen=True)
class Parsed:
    command: Command | None  # None: a slash command we do not know
    word: str
    args: str


def parse(text: str) -> Parsed | None:
    """The command in `text`, or None when the text is chat rather than a command."""
    split = split_command(text)
    if split is None:
        return None
    word, args, slash = split
    found = _WORDS.get(word)
    if found is not None and (slash or not found[1]):
        return Parsed(found[0], word, args)
    return Parsed(None, word, args) if slash else None


def run(ctx: BotContext, parsed: Parsed) -> tuple[str, str]:
    """(command name, answer text) for a parsed command; always an answer, never an exception for what
    the staff member typed."""
    spec = parsed.command
    if spec is None:
        return "unknown", f"没有这个命令：/{parsed.word}\n发送 /help 查看可用的命令。"
    try:
        text = spec.fn(ctx, parsed.args)
    except UsageError as exc:
        text = f"{exc}\n用法：{spec.usage}"
    except CommandError as exc:
        text = str(exc)
    return spec.name, clip(text)


def clip(text: str, limit: int = MAX_REPLY_BYTES) -> str:
    """`text` cut to `limit` UTF-8 bytes on a character boundary, with an ellipsis when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore") + "…"


def require_no_args(args: str) -> None:
    if args:
        raise UsageError(f"这个命令不需要参数：{args}")


@command("/help", "帮助", usage="/help [命令]", summary="列出命令，或看一个命令的用法")
def help_command(ctx: BotContext, args: str) -> str:
    if args:
        found = _WORDS.get(args.lstrip("/").lower())
        if found is None:
            raise UsageError(f"没有这个命令：{args}")
        spec = found[0]
        return f"{spec.summary}\n用法：{spec.usage}"
    lines = ["可用的命令："]
    lines += [f"{spec.usage}  {spec.summary}" for spec in COMMANDS.values()]
    scope = ("你的身份：成员，只能看到和操作你跟进的客户。" if ctx.is_member
             else "你的身份：管理员，可以看到全企业的客户。")
    lines.append(scope)
    return "\n".join(lines)
