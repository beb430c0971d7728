"""Bot commands staff type to the self-built app in WeCom (`/客户 王小明`, `计划 明天下午3点 回访`).

Pure command logic on the DB session a handler gives it: `commands` (registry, parsing, answers),
`parse` (argument splitting), `dates` (Chinese dates), `scope` (what the typer may see), and the command
modules. Importing the package registers every command. `handlers/bot.py` routes app text messages here;
`jobs/bot.py` delivers the answers.
"""

from bot import customers, agenda  # noqa: F401  (register their commands; help lists them in this order)
from bot.commands import BotContext, parse, run

__all__ = ["BotContext", "parse", "run"]
