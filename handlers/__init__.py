"""Event handlers, one module per event family; importing the package registers them all."""

from handlers import bot, contacts, directory, kf, lifecycle, moderation, tags  # noqa: F401  (register their handlers)
from handlers.registry import HandlerContext, dispatch, handled_keys, on

__all__ = ["HandlerContext", "dispatch", "handled_keys", "on"]
