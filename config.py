"""Settings read once from the environment (and an optional `.env`).

This module imports nothing of ours so that every room (the web app, the rq worker processes, the CLI
and the migration environment) reads configuration the same way: a worker started by plain `rq worker`
never runs `create_app`, yet must find the same database and WeCom base URL.

Where the `.env` comes from is one rule for every process (`env_file`): the file named by
`SCRM_ENV_FILE`, else `.env` in the working directory. Not python-dotenv's default, which searches
upwards from the calling module's folder: installed in site-packages, that is never the operator's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from collections.abc import Mapping

WECOM_REAL_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"
WECOM_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
WECOM_JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"
ENV_FILE_VARIABLE = "SCRM_ENV_FILE"


class ConfigError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclass(frozen=True)
class EnvApp:
    """The single app that can be configured from the environment alone (`/wecom/callback/default`)."""

    corp_id: str
    token: str
    aes_key: str
    secret: str
    agent_id: int | None
    kind: str = "agent"


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible bucket (AWS, MinIO, Ceph, OSS/COS in S3 mode). Keys left empty: boto3 finds
    credentials its usual way (instance role, ~/.aws)."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


STORAGE_KINDS = ("local", "s3")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///scrm.db"
    redis_url: str | None = None
    wecom_api_base: str = WECOM_REAL_API_BASE
    secret_key: str = "dev-insecure-secret-key"
    max_clock_skew: int = 900
    max_body_bytes: int = 64 * 1024
    api_max_body_bytes: int = 1024 * 1024  # admin API request bodies (callbacks have max_body_bytes)
    timezone: str = "Asia/Shanghai"
    env_app: EnvApp | None = None
    sweep_after_seconds: int = 60
    app_message_window_seconds: int = 60
    """WeCom's minute in the per-member app-message budget (doc 90454); tests shorten it."""
    export_dir: str = "exports"
    """Where export jobs write their files; web and workers must share it (a volume, on several hosts)."""
    storage: str = "local"
    """Where uploaded files (follow-up attachments) go: `local` (a directory) or `s3` (an S3-compatible bucket)."""
    storage_dir: str = "files"
    """The local store's directory, made on first use; web and workers must share it, like `export_dir`."""
    s3: S3Settings | None = None
    sidebar_authorize_url: str = WECOM_AUTHORIZE_URL
    """Where a sidebar page without a session sends the browser to sign in (tests: the fake WeCom's)."""
    sidebar_secure_cookie: bool = True
    """Sidebar cookies carry Secure; off only for local http (SCRM_SIDEBAR_SECURE_COOKIE=0)."""
    sidebar_session_seconds: int = 8 * 3600
    sidebar_jssdk_url: str = WECOM_JSSDK_URL
    """WeCom's JS-SDK, which provides the `wx` bridge in the WeCom WebView; empty: no script tag."""
    public_url: str = ""
    """The service's address as browsers reach it (`https://scrm.example.com`), for OAuth's redirect_uri and
    the pages JS-SDK may sign; empty: the request's own host and scheme (no TLS-terminating proxy)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def jobs_inline(self) -> bool:
        """Without Redis, jobs run in-process right after the request's commit (the embedded default)."""
        return not self.redis_url

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_app(env: Mapping[str, str]) -> EnvApp | None:
    names = ("WECOM_CORP_ID", "WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_SECRET")
    present = [n for n in names if env.get(n)]
    if not present:
        return None
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise ConfigError(f"the environment app needs {', '.join(missing)} as well as {', '.join(present)}")
    aes_key = env["WECOM_AES_KEY"]
    if len(aes_key) != 43:
        raise ConfigError("WECOM_AES_KEY must be the 43-character EncodingAESKey from WeCom's console")
    agent = env.get("WECOM_AGENT_ID")
    return EnvApp(
        corp_id=env["WECOM_CORP_ID"],
        token=env["WECOM_TOKEN"],
        aes_key=aes_key,
        secret=env["WECOM_SECRET"],
        agent_id=int(agent) if agent else None,
        kind=env.get("WECOM_APP_KIND", "agent"),
    )


def _storage(env: Mapping[str, str]) -> tuple[str, S3Settings | None]:
    kind = (env.get("SCRM_STORAGE") or "local").lower()
    if kind not in STORAGE_KINDS:
        raise ConfigError(f"SCRM_STORAGE must be one of {', '.join(STORAGE_KINDS)}, got {kind!r}")
    if kind == "local":
        return kind, None
    if not env.get("SCRM_S3_BUCKET"):
        raise ConfigError("SCRM_STORAGE=s3 needs SCRM_S3_BUCKET")
    return kind, S3Settings(bucket=env["SCRM_S3_BUCKET"], endpoint_url=env.get("SCRM_S3_ENDPOINT_URL") or None,
                            region=env.get("SCRM_S3_REGION") or None,
                            access_key_id=env.get("SCRM_S3_ACCESS_KEY_ID") or None,
                            secret_access_key=env.get("SCRM_S3_SECRET_ACCESS_KEY") or None)


def env_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The `.env` this process reads: `SCRM_ENV_FILE` (which must exist: a typo must not silently start
    the service on defaults), else `./.env` when there is one."""
    named = environ.get(ENV_FILE_VARIABLE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{ENV_FILE_VARIABLE}={named}: no such file")
        return path
    local = Path.cwd() / ".env"
    return local if local.is_file() else None


def load_env_file() -> Path | None:
    """Load `env_file()` into os.environ; variables already set win (the environment is the override)."""
    path = env_file()
    if path is not None:
        from dotenv import load_dotenv

        load_dotenv(path, override=False)
    return path


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ after loading the `.env`, see `env_file`)."""
    if env is None:
        load_env_file()
        env = os.environ
    base = env.get("WECOM_API_BASE") or WECOM_REAL_API_BASE
    if not base.endswith("/"):
        base += "/"
    storage, s3 = _storage(env)
    return Settings(
        database_url=env.get("DATABASE_URL") or "sqlite:///scrm.db",
        redis_url=env.get("REDIS_URL") or None,
        wecom_api_base=base,
        secret_key=env.get("SECRET_KEY") or "dev-insecure-secret-key",
        max_clock_skew=_int(env, "WECOM_MAX_CLOCK_SKEW", 900),
        timezone=env.get("SCRM_TIMEZONE") or "Asia/Shanghai",
        env_app=_env_app(env),
        sweep_after_seconds=_int(env, "SCRM_SWEEP_AFTER", 60),
        api_max_body_bytes=_int(env, "SCRM_API_MAX_BODY_BYTES", 1024 * 1024),
        app_message_window_seconds=max(1, _int(env, "SCRM_APP_MESSAGE_WINDOW", 60)),
        export_dir=env.get("SCRM_EXPORT_DIR") or "exports",
        storage=storage,
        storage_dir=env.get("SCRM_STORAGE_DIR") or "files",
        s3=s3,
        sidebar_authorize_url=env.get("WECOM_OAUTH_AUTHORIZE_URL") or WECOM_AUTHORIZE_URL,
        sidebar_secure_cookie=env.get("SCRM_SIDEBAR_SECURE_COOKIE", "1").strip().lower() not in ("0", "false", "no"),
        sidebar_session_seconds=max(60, _int(env, "SCRM_SIDEBAR_SESSION_SECONDS", 8 * 3600)),
        sidebar_jssdk_url=env.get("SCRM_SIDEBAR_JSSDK_URL", WECOM_JSSDK_URL),
        public_url=(env.get("SCRM_PUBLIC_URL") or "").rstrip("/"),
    )
