"""Every bad input a message: start-up faults exit 2 with one line naming the fault and what to do (no
traceback); bad configuration files are refused with their line; a bad postmortem skips one file."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.localstack import PATIENCE
from bot.standin.server import SlackStandIn
from tests.integration.conftest import wait_until
from workers.errors import ConfigError
from workers.evidence.config import load_sources
from workers.knowledge.ingest import ingest_path
from workers.policy.model import load_policy
from workers.redisconn import EmbeddedRedis, redis_server_binary

TOKEN = "xoxb-1-2-badinput"
BOMB = """\
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
sources: *g
"""
SOURCES = """\
sources:
  - name: app
    type: files
    paths: ["/var/log/app.log"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "SLACK_APP_TOKEN",
        "REDIS_URL",
        "PORT",
        "PROMPTS_DIR",
        "EVIDENCE_SOURCES_FILE",
        "SECRETS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "0123456789abcdef0123")
    monkeypatch.setenv("REDIS_EMBEDDED_DIR", str(tmp_path / "redis"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    standin = SlackStandIn(bot_token=TOKEN)
    standin.start()
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    yield standin
    standin.stop()


@pytest.fixture
def redis_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path / "own-redis", persist=False)
    url = server.ensure_running()
    monkeypatch.setenv("REDIS_URL", url)
    yield url
    server.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    assert main(["--env-file", "missing.env", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    return err


def test_port_in_use(slack: SlackStandIn, redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        one_line_exit_2(["bot", "--host", "127.0.0.1", "--port", str(port)], capsys, f":{port}", "--port")


def test_unreachable_redis(
    slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    one_line_exit_2(["bot", "--port", "0"], capsys, "cannot reach REDIS_URL", "fix REDIS_URL")


@pytest.mark.parametrize("password", ["", "wrong"])
def test_password_protected_redis(
    password: str, slack: SlackStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    sock = tmp_path / "auth.sock"
    server = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--requirepass", "s3cret-pw",
         "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: sock.exists() or server.poll() is not None, PATIENCE)
        auth = f":{password}@" if password else ""
        monkeypatch.setenv("REDIS_URL", f"unix://{auth}{sock}")
        err = one_line_exit_2(["bot", "--port", "0"], capsys, "REDIS_URL", "password")
        assert "s3cret-pw" not in err and (not password or password not in err)
    finally:
        server.terminate()
        server.wait(10)


def test_unreachable_slack(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/"
    monkeypatch.setenv("SLACK_API_URL", api)
    one_line_exit_2(["bot", "--port", "0"], capsys, f"cannot reach Slack at {api}", "SLACK_API_URL")


def test_prompts_dir_pointing_nowhere(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PROMPTS_DIR", "/nowhere/prompts")
    assert main(["--env-file", "missing.env", "worker", "--burst"]) == 2
    err = capsys.readouterr().err
    assert "PROMPTS_DIR: no such directory: /nowhere/prompts" in err and "Traceback" not in err


def test_non_utf8_sources_file_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes(SOURCES.encode() + b"  - name: caf\xe9\n")
    monkeypatch.setenv("EVIDENCE_SOURCES_FILE", str(path))
    assert main(["--env-file", "missing.env", "worker", "--burst"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:5: not UTF-8 text (byte 0xe9)" in err and "Traceback" not in err


def test_yaml_bomb_in_the_sources_file_is_refused_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(BOMB)
    with pytest.raises(ConfigError, match="YAML bomb"):
        load_sources(path)


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources: &s [*s]\n")
    with pytest.raises(ConfigError, match=r"sources\.yaml:1: .*an alias inside itself"):
        load_sources(path)


def test_duplicate_keys_are_errors_with_their_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES + "sources: []\n")
    with pytest.raises(ConfigError, match=r"sources.yaml:5: .*duplicate key 'sources' \(first on line 1\)"):
        load_sources(sources)
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nactions:\n  restart:\n    level: observe\n  restart:\n    level: act\n")
    with pytest.raises(ConfigError, match=r"policy.yaml:5: .*duplicate key 'restart' \(first on line 3\)"):
        load_policy(policy)


def test_policy_check_reports_a_duplicate_key(tmp_path: Path, capsys) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndeny: []\ndeny: []\n")
    assert main(["--env-file", "missing.env", "policy", "check", str(policy)]) != 0
    out = capsys.readouterr()
    assert "policy.yaml:3:" in out.out + out.err and "duplicate key 'deny'" in out.out + out.err


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - &a {name: a, type: files, paths: [/a.log]}\n  - <<: *a\n    name: b\n")
    assert [s.name for s in load_sources(sources).sources] == ["a", "b"]


def test_a_58_mb_policy_is_refused_from_its_size(tmp_path: Path) -> None:
    policy = tmp_path / "huge.yaml"
    with policy.open("wb") as f:
        f.truncate(58_000_000)  # sparse: the loader must refuse it without reading it
    with pytest.raises(ConfigError, match=r"huge.yaml is 58.0 MB, over the 1 MB limit"):
        load_policy(policy)


def test_one_deeply_nested_postmortem_is_skipped_and_the_batch_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "a-good.json").write_text(json.dumps({"id": "INC-1", "title": "Pool exhausted"}))
    (folder / "b-deep.json").write_text(
        '{"id": "INC-2", "title": "x", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    (folder / "c-good.yaml").write_text("id: INC-3\ntitle: Disk full\n")
    report = ingest_path(folder)
    assert sorted(r.id for r in report.records) == ["INC-1", "INC-3"]
    [problem] = report.problems
    assert problem.path.name == "b-deep.json" and "nested too deeply" in problem.message


def test_an_oversized_postmortem_is_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "good.yaml").write_text("id: INC-3\ntitle: Disk full\n")
    with (folder / "huge.json").open("wb") as f:
        f.truncate(6_000_000)
    report = ingest_path(folder)
    assert [r.id for r in report.records] == ["INC-3"]
    assert "over the 5 MB limit" in report.problems[0].message
