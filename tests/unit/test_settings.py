import pytest

from bot.cli import main
from workers.errors import ConfigError
from workers.settings import Settings

ALL_VARS = [
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "REDIS_URL",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL", "PORT", "LOG_LEVEL", "LOG_FORMAT",
    "INCIDENT_TIMEZONE", "INCIDENT_CHANNEL_PATTERN", "SECRETS_DIR",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_nothing() -> None:
    s = Settings.load()
    assert s.slack.api_url == "https://slack.com/api/"
    assert s.redis.url is None  # embedded Redis
    assert not s.llm.configured  # evidence-only mode
    assert s.server.port == 3000


def test_every_bad_variable_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    monkeypatch.setenv("PORT", "ninety")
    monkeypatch.setenv("INCIDENT_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("OPENAI_BASE_URL", "vllm:8000")
    assert main(["--env-file", "missing.env", "worker"]) == 2
    err = capsys.readouterr().err
    for expected in (
        "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-",
        "REDIS_URL: must look like redis://",
        "PORT:",
        "INCIDENT_TIMEZONE: must be an IANA time zone",
        "OPENAI_BASE_URL: must be an http(s) URL",
    ):
        assert expected in err
    assert "Traceback" not in err
    assert "xoxp-user-token" not in err


def test_missing_variables_for_the_bot(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    assert main(["--env-file", "missing.env", "bot"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN is missing" in err
    assert "SLACK_SIGNING_SECRET is missing" in err


def test_socket_mode_needs_no_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-abc")
    Settings.load().check_for("bot")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-wrong-kind")
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN: must be an app-level token"):
        Settings.load()


def test_dotenv_and_secrets_dir(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SLACK_SIGNING_SECRET=from-dotenv\nLLM_MODEL=llama3\nPORT=4000\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "SLACK_BOT_TOKEN").write_text("xoxb-from-secret-file")
    (secrets / "OPENAI_API_KEY").write_text("sk-from-secret-file-0123456789")
    monkeypatch.setenv("PORT", "5000")  # the environment wins over .env
    s = Settings.load(env_file=tmp_path / ".env", secrets_dir=secrets)
    assert s.slack.signing_secret is not None and s.slack.signing_secret.get_secret_value() == "from-dotenv"
    assert s.slack.bot_token is not None and s.slack.bot_token.get_secret_value() == "xoxb-from-secret-file"
    assert s.llm.configured and s.llm.model == "llama3"
    assert s.server.port == 5000
    assert "from-secret-file" not in repr(s)  # secrets never print


def test_api_url_gets_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    assert Settings.load().slack.api_url == "http://127.0.0.1:9999/api/"
