"""`incident-copilot playground`, run as a user runs it, driven by a real headless Chromium (Debian's
chromium and chromium-driver, installed when missing and root, else the browser test is skipped):
/triage, Support, Approve through its confirm dialog (refused to the requester), Mark resolved, and
the uploaded postmortem opened, over the real bot, worker, Redis and Slack stand-in. A PNG of each
step goes into a folder the test prints (PLAYGROUND_SCREENSHOTS to choose it). Its API refuses what
it cannot do with a reason and escapes what people type; SIGTERM stops every process it started."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.localstack import free_port
from tests.support import debian_services

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is a dev dependency: pip install -e .[dev]"
)
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

BROWSER = {"chromium": "chromium", "chromedriver": "chromium-driver"}
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,1000",
)
READY_CAP_S = 300  # an embedded Redis, the bot and a warmed-up worker on a loaded 2-core machine
ANSWER_CAP_S = 180  # the answer usually comes in seconds
STEP_CAP_S = 90
EMAILS = "C0INCMAIL3"  # a channel the browser test leaves alone

# Every message's ts and text on each change of the feed, to see the placeholder edited in place.
WATCH_FEED = """
window.seen = [];
const note = () => window.seen.push([...document.querySelectorAll('#feed > .sk-msg')]
  .map((m) => [m.dataset.ts, m.innerText]));
new MutationObserver(note).observe(document.getElementById('feed'), {childList: true, subtree: true});
"""


@dataclass
class Running:
    """`incident-copilot playground` in a process of its own, its temporary files under `tmp`."""

    proc: subprocess.Popen[bytes]
    tmp: Path
    log: Path
    url: str = ""

    def records(self) -> list[dict[str, Any]]:
        """What the recording executor wrote."""
        files = self.tmp.glob("incident-copilot-playground-*/executor-records.jsonl")
        return [json.loads(line) for f in files for line in f.read_text().splitlines()]

    def processes(self) -> set[int]:
        """The bot, the worker and its work horses (descendants), and the embedded Redis, which
        daemonises (nobody's child): its pid file says which it is."""
        pid_files = self.tmp.glob("incident-copilot-playground-*/stack/redis/redis.pid")
        return {int(p.read_text()) for p in pid_files} | _descendants(self.proc.pid)


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = Path(tempfile.mkdtemp(prefix="icpg-", dir="/tmp"))  # short: Redis's unix socket path is under it
    log = tmp_path_factory.mktemp("playground") / "playground.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "REDIS_"))}
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "--env-file",
        os.devnull,
        "playground",
        "--port",
        str(free_port()),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**env, "TMPDIR": str(tmp)},
            start_new_session=True,
        )
    running = Running(proc, tmp, log)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + READY_CAP_S
        while not (ready := re.search(r"Playground ready: (\S+)", log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not ready in {READY_CAP_S} s:\n{log.read_text()}"
            time.sleep(0.2)
        running.url = ready.group(1)
        seen = running.processes()
        yield running
    finally:  # whatever happened: nothing it started survives the module
        for pid in seen | running.processes() | ({proc.pid} if proc.poll() is None else set()):
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    try:
        paths = debian_services.installed(BROWSER)
    except RuntimeError as exc:
        pytest.skip(f"no headless Chromium: {exc}")
    options = webdriver.ChromeOptions()
    options.binary_location = paths["chromium"]
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # Its own session, so the driver and every browser process it starts can be killed together.
    service = webdriver.ChromeService(
        paths["chromedriver"],
        log_output=str(tmp_path / "chromedriver.log"),
        popen_kw={"start_new_session": True},
    )
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        process = service.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def shots(tmp_path: Path, record_property: Callable[[str, Any], None]) -> Path:
    folder = Path(os.environ.get("PLAYGROUND_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    record_property("screenshots", str(folder))
    print(f"\nplayground screenshots: {folder}")
    return folder


def _wait(driver: WebDriver, what: str, check: Callable[[WebDriver], Any], cap: float = STEP_CAP_S) -> Any:
    """Until `check` gives something true; the page re-renders the feed when it changes, so an element
    found a moment ago may be gone: that is retried, not failed."""
    wait = WebDriverWait(
        driver, cap, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    return wait.until(check, f"waited {cap:.0f} s for {what}")


def _snap(driver: WebDriver, folder: Path, name: str, show: str = "") -> None:
    """A PNG of the page, scrolled so the feed's element with the text `show` is in view."""
    if show:
        _wait(driver, f"{show!r} in view", lambda d: _scroll_to(d, show))
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"no screenshot {path}"
    print(f"  {path}")


def _scroll_to(driver: WebDriver, text: str) -> bool:
    found = driver.find_elements(By.XPATH, f"(//div[@id='feed']//*[contains(text(), '{text}')])[last()]")
    if found:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", found[0])
    return bool(found)


def _feed(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "feed").text)


def _labels(driver: WebDriver) -> list[str]:
    return [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#feed button.sk-btn")]


def _click(driver: WebDriver, label: str) -> None:
    """Click the feed's first button labelled `label`."""

    def click(d: WebDriver) -> bool:
        found = [b for b in d.find_elements(By.CSS_SELECTOR, "#feed button.sk-btn") if b.text == label]
        if found:
            found[0].click()
        return bool(found)

    _wait(driver, f"a {label!r} button to click", click)


def _post_as(driver: WebDriver, user: str) -> None:
    Select(driver.find_element(By.ID, "as")).select_by_value(user)


def test_triage_support_approve_resolve_and_open_the_postmortem_in_a_browser(
    playground: Running, browser: WebDriver, shots: Path
) -> None:
    d = browser
    d.get(playground.url)
    _wait(d, "the seeded conversation", lambda d: "Paged: checkout-api p99 latency" in _feed(d))
    channels = [c.text.splitlines()[0] for c in d.find_elements(By.CSS_SELECTOR, "#channels .chan")]
    assert channels == ["# inc-checkout-latency", "# inc-email-delays", "# inc-search-restarts"]
    assert d.find_element(By.ID, "chan-name").text == "#inc-checkout-latency"
    _snap(d, shots, "01-channel")

    # /triage, as Alice (the page's default for this channel): the placeholder is edited in place.
    hint = str(d.find_element(By.ID, "text").get_attribute("placeholder")).removeprefix("Try: ")
    assert hint.startswith("/triage checkout p99 latency")
    d.execute_script(WATCH_FEED)
    d.find_element(By.ID, "text").send_keys(hint + "\n")
    _wait(d, "the answer", lambda d: "Mark resolved" in _labels(d), ANSWER_CAP_S)
    answer = d.find_element(
        By.XPATH, "//div[@id='feed']/div[contains(@class,'sk-msg')][.//div[@class='sk-header']]"
    )
    ts = answer.get_attribute("data-ts")
    seen = [text for snapshot in d.execute_script("return window.seen") for t, text in snapshot if t == ts]
    assert any("gathering context" in text for text in seen), "the placeholder was never shown"
    assert "(edited)" in answer.text and "gathering context" not in answer.text
    assert "INC-2025-0912" in answer.text and "Evidence-only mode" in answer.text
    labels = _labels(d)
    for label in ("Support", "Reject", "Approve rollback payments-svc", "Deny", "Mark resolved"):
        assert label in labels
    approve = d.find_element(By.CSS_SELECTOR, "#feed button[data-action-id='proposal_approve']")
    assert approve.text == "Approve rollback payments-svc" and "sk-primary" in str(
        approve.get_attribute("class")
    )
    assert "Log evidence for payments-svc" in _feed(d)  # the thread under the answer
    _snap(d, shots, "02-answer", "Triage: #inc-checkout-latency")

    # Alice ran /triage, so her Approve is refused (to her only) and nothing runs.
    _click(d, "Approve rollback payments-svc")
    _wait(d, "the confirm dialog", lambda d: d.find_element(By.CSS_SELECTOR, "#confirm.open"))
    d.find_element(By.ID, "confirm-ok").click()
    _wait(d, "the refusal", lambda d: "you requested this action; someone else must approve it" in _feed(d))
    assert "Approve rollback payments-svc" in _labels(d) and playground.records() == []

    # Support the top hypothesis as Chen: the bot's note is shown to Chen only.
    _post_as(d, "U0CHEN")
    _wait(d, "Alice's refusal hidden from Chen", lambda d: "someone else must approve it" not in _feed(d))
    _click(d, "Support")
    _wait(d, "the verdict note", lambda d: "Noted: you supported H1" in _feed(d))
    assert "Only visible to you" in _feed(d)
    _snap(d, shots, "03-supported", "Noted: you supported")

    # Approve: Slack's confirm dialog first; Cancel sends nothing, Approve goes through the policy.
    _click(d, "Approve rollback payments-svc")
    dialog = _wait(d, "the confirm dialog", lambda d: d.find_element(By.CSS_SELECTOR, "#confirm.open"))
    assert "Run this action?" in dialog.text and "rollback payments-svc" in dialog.text
    assert dialog.find_element(By.CSS_SELECTOR, "#confirm-text code").text == "rollback payments-svc"
    _snap(d, shots, "04-confirm")
    d.find_element(By.ID, "confirm-deny").click()
    assert not d.find_elements(By.CSS_SELECTOR, "#confirm.open")
    assert "Approve rollback payments-svc" in _labels(d) and playground.records() == []
    _click(d, "Approve rollback payments-svc")
    _wait(d, "the confirm dialog", lambda d: d.find_element(By.CSS_SELECTOR, "#confirm.open"))
    d.find_element(By.ID, "confirm-ok").click()
    _wait(d, "the executor's report", lambda d: "rollback payments-svc succeeded" in _feed(d))
    _wait(
        d,
        "the executor record",
        lambda d: "execute: rollback payments-svc" in d.find_element(By.ID, "records").text,
    )
    assert "approved by @chen: succeeded" in _feed(d)
    labels = _labels(d)
    assert "Approve rollback payments-svc" not in labels and "Deny" not in labels and "Undo" in labels
    [record] = playground.records()
    assert (record["action"], record["target"], record["requested_by"]) == (
        "rollback",
        "payments-svc",
        "U0ALICE",
    )
    _snap(d, shots, "05-approved", "approved by")

    # Mark resolved as Alice: the postmortem draft is uploaded into the channel.
    _post_as(d, "U0ALICE")
    _click(d, "Mark resolved")
    card = _wait(
        d,
        "the uploaded postmortem",
        lambda d: d.find_element(By.CSS_SELECTOR, "#feed a.sk-file"),
        ANSWER_CAP_S,
    )
    assert "postmortem-INC-" in card.text and card.text.strip().endswith("bytes")
    assert "Approve postmortem" in _labels(d) and "Hypotheses 1: 1 confirmed" in _feed(d)
    _snap(d, shots, "06-resolved", "Postmortem draft")

    card.click()
    viewer = _wait(d, "the postmortem viewer", lambda d: d.find_element(By.CSS_SELECTOR, "#file.open"))
    text = viewer.find_element(By.ID, "file-text").text
    assert text.startswith("# Postmortem:") and "INC-2025-0912" in text and "rollback payments-svc" in text
    assert "#inc-checkout-latency" in text
    _snap(d, shots, "07-postmortem")


def _call(
    url: str, body: Any = None, content_type: str = "application/json", host: str = ""
) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = {"Content-Type": content_type, **({"Host": host} if host else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_api_says_what_it_cannot_do(playground: Running) -> None:
    api = playground.url + "api/"
    send = {"channel": EMAILS, "user": "U0CHEN"}
    assert _call(api + "send", {**send, "text": "/deploy everything"}) == (
        400,
        {"error": "/deploy is not a command here; the app offers /triage"},
    )
    status, body = _call(api + "send", {**send, "channel": "C0NOPE", "text": "hi"})
    assert status == 400 and "unknown channel 'C0NOPE'" in body["error"]
    status, body = _call(api + "send", {**send, "user": "U0BOT", "text": "hi"})
    assert status == 400 and "unknown user 'U0BOT'" in body["error"]  # nobody posts as the app
    status, body = _call(api + "send", {**send, "text": "   "})
    assert status == 400 and "between 1 and" in body["error"]
    status, body = _call(api + "click", {**send, "message_ts": "1.000001", "action_id": "x", "value": "y"})
    assert status == 400 and "no message 1.000001" in body["error"]
    assert _call(api + "send", b"text=/triage", "application/x-www-form-urlencoded")[0] == 415
    assert _call(api + "send", b"[1]")[1] == {"error": "the request body must be a JSON object"}
    status, body = _call(api + "workspace", host="evil.example:80")
    assert status == 421 and "open the playground as" in body["error"]
    assert _call(api + "files/F0NOPE")[1] == {"error": "no uploaded file F0NOPE"}


def test_a_typed_message_reaches_the_channel_escaped_and_a_click_needs_its_button(
    playground: Running,
) -> None:
    api = playground.url + "api/"
    typed = "rabbitmq looks fine <img src=x onerror=alert(1)> & <script>alert(1)</script>"
    assert _call(api + "send", {"channel": EMAILS, "user": "U0DANA", "text": typed}) == (200, {"status": 200})
    status, page = _call(f"{api}channel?channel={EMAILS}&user=U0DANA")
    assert status == 200 and "rabbitmq looks fine" in page["html"] and "&amp;" in page["html"]
    assert "<img" not in page["html"] and "<script" not in page["html"]
    ts = re.findall(r'data-ts="([^"]+)"', page["html"])[-1]
    click = {
        "channel": EMAILS,
        "user": "U0DANA",
        "message_ts": ts,
        "action_id": "proposal_approve",
        "value": "P1",
    }
    status, body = _call(api + "click", click)
    assert status == 400 and "no such button" in body["error"]


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_every_process_it_started(playground: Running) -> None:
    """Last in this module: it stops the playground the tests above used."""
    started = playground.processes()
    assert len(started) >= 3, started  # the bot, a worker, Redis
    playground.proc.send_signal(signal.SIGTERM)
    assert playground.proc.wait(READY_CAP_S) == 0
    out = playground.log.read_text()
    assert "Playground ready: http://127.0.0.1:" in out and out.rstrip().endswith("Stopped.")
    assert [pid for pid in started if _alive(pid)] == []
    assert not list(playground.tmp.glob("incident-copilot-playground-*")), "the temporary folder was left"
