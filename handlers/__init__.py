"""Event handlers, one module per event family; importing the package registers them all."""

from handlers import (  # noqa: F401  (register their handlers)
    acquisition, bot, contacts, directory, groups, kf, lifecycle, member_tags, moderation, tags,
)
from handlers.registry import HandlerContext, dispatch, handled_keys, on, prepare

__all__ = ["HandlerContext", "dispatch", "handled_keys", "on", "prepare"]
