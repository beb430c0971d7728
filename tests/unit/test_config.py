"""Settings from the environment."""

from __future__ import annotations

import pytest

from config import ConfigError, load_settings

APP_ENV = {"WECOM_CORP_ID": "ww1", "WECOM_TOKEN": "t", "WECOM_AES_KEY": "a" * 43, "WECOM_SECRET": "s"}


def test_defaults_are_the_embedded_mode() -> None:
    s = load_settings({})
    assert (s.database_url, s.redis_url, s.jobs_inline, s.max_clock_skew) == ("sqlite:///scrm.db", None, True, 900)
    assert s.wecom_api_base == "https://qyapi.weixin.qq.com/cgi-bin/" and s.env_app is None


def test_env_app_and_overrides() -> None:
    s = load_settings({**APP_ENV, "WECOM_AGENT_ID": "1000002", "REDIS_URL": "redis://x", "WECOM_MAX_CLOCK_SKEW": "0",
                       "WECOM_API_BASE": "http://127.0.0.1:1/cgi-bin"})
    assert s.env_app.agent_id == 1000002 and s.redis_url == "redis://x" and not s.jobs_inline
    assert s.max_clock_skew == 0 and s.wecom_api_base == "http://127.0.0.1:1/cgi-bin/"


@pytest.mark.parametrize("env, message", [
    ({"WECOM_CORP_ID": "ww1"}, "WECOM_TOKEN"),
    ({**APP_ENV, "WECOM_AES_KEY": "short"}, "43-character"),
    ({"WECOM_MAX_CLOCK_SKEW": "soon"}, "WECOM_MAX_CLOCK_SKEW"),
])
def test_bad_settings_say_which_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_the_working_directorys_env_is_read_and_the_environment_wins(tmp_path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///from-dotenv.db\nREDIS_URL=redis://from-dotenv\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCRM_ENV_FILE", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)  # and removed again after the test, .env or not
    monkeypatch.setenv("REDIS_URL", "redis://from-environment")
    settings = load_settings()
    assert (settings.database_url, settings.redis_url) == ("sqlite:///from-dotenv.db", "redis://from-environment")


def test_scrm_env_file_wins_over_the_working_directorys(tmp_path, monkeypatch) -> None:
    from config import env_file

    (tmp_path / ".env").write_text("")
    named = tmp_path / "ops.env"
    named.write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCRM_ENV_FILE", str(named))
    assert env_file() == named
    monkeypatch.delenv("SCRM_ENV_FILE")
    assert env_file() == tmp_path / ".env"
    (tmp_path / ".env").unlink()
    assert env_file() is None
