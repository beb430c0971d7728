"""What a valid WeCom app configuration looks like, checked before anything is stored: one pydantic model
read by the admin API (`POST /apps`, which documents it) and by `flask apps add`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, ValidationInfo, field_validator

from rules.problems import field_errors

NEEDS_AGENT_ID = ("required for a self-built app: it sends app messages, and message/send needs the app's "
                  "AgentId (agentid 0 is refused)")

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class AppDefinition(BaseModel):
    """Token and EncodingAESKey follow WeCom's console rules (≤32 letters/digits; exactly 43), so a typo is
    caught here instead of as a signature error on the first real callback."""

    model_config = ConfigDict(strict=True, extra="ignore")

    slug: Annotated[str, Field(pattern=SLUG, description="1-64 lowercase letters, digits, '-' or '_'")]
    corp_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    kind: Literal["agent", "contact", "kf"] = "agent"
    token: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,32}$", description="as set in WeCom's console")]
    aes_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{43}$", description="the EncodingAESKey")]
    secret: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    agent_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(None, validate_default=True)

    @field_validator("agent_id")
    @classmethod
    def _self_built_apps_send(cls, value: int | None, info: ValidationInfo) -> int | None:
        """A self-built app sends app messages, and message/send needs its AgentId."""
        if info.data.get("kind", "agent") == "agent" and not value:
            raise ValueError(NEEDS_AGENT_ID)
        return value


class AppChange(BaseModel):
    """What `PATCH /apps/<slug>` may change: the secret (a new one clears broken credentials) and the agent
    id. Anything else is refused by name rather than silently kept as it was."""

    model_config = ConfigDict(strict=True, extra="forbid")

    secret: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None = None
    agent_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None


def app_errors(fields: dict[str, Any]) -> dict[str, str]:
    """Field → message for every problem in an app definition; empty when it can be saved. Patterns are
    pydantic's (Rust regex), whose `$` is the end of the text: a trailing newline is refused."""
    try:
        AppDefinition.model_validate(fields)
    except ValidationError as exc:
        return field_errors(exc)
    return {}
