"""Real Prometheus and Alertmanager servers from Debian's packages, for the tests that need them.

`installed()` installs the packages when their binaries are missing (as root, with apt-get, the way
CI runs on a fresh Debian machine); the servers then run on loopback with their own data folders.
A machine where they cannot be installed fails the tests that need them with the reason: it does
not skip them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.localstack import PATIENCE, LocalStack

PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
}
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def installed(packages: dict[str, str] = PACKAGES) -> dict[str, str]:
    """The paths of `packages`' binaries (binary -> Debian package), installing the packages first if
    needed; raises RuntimeError with why."""
    missing = sorted({pkg for binary, pkg in packages.items() if shutil.which(binary) is None})
    if missing:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise RuntimeError(
                f"{', '.join(missing)} missing and not installable here (needs root and apt-get)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        with services_held_back():
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:  # most often: no package lists yet on a fresh machine
                subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
                done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get install {' '.join(missing)} failed:\n{done.stderr[-2000:]}")
    return {binary: str(shutil.which(binary)) for binary in packages}


@contextmanager
def services_held_back(policy: Path = POLICY_RC_D) -> Iterator[None]:
    """The packages' scripts start their services unless policy-rc.d refuses (exit 101): without
    systemd that start fails or leaves a daemon behind. Put one in place for the install if the
    machine has none (Debian's container images ship one), and remove it afterwards."""
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def running(args: list[str], url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        # A session of its own, stopped with everything it started, also when the test fails.
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_ready(url, proc, log)
            yield proc
        finally:
            LocalStack.stop_process(proc)


def backfill(openmetrics: str, data: Path) -> None:
    """Write `openmetrics` (text ending in `# EOF`) as TSDB blocks into `data` with promtool, before
    Prometheus starts on it."""
    source = data.parent / f"{data.name}.om"
    data.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(openmetrics)
    args = [installed()["promtool"], "tsdb", "create-blocks-from", "openmetrics"]
    args += ["--max-block-duration=24h", str(source), str(data)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"promtool could not backfill {source}:\n{done.stderr[-2000:]}")


@contextmanager
def prometheus(data: Path, config_text: str | None = None, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Prometheus on a data folder (backfill it first), keeping 60 days; yields its URL.
    `config_text`: its configuration (default: nothing to scrape)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = data.parent / "prometheus.yml"
    config.write_text(config_text or "global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    args = [
        installed()["prometheus"],
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=60d",
        f"--web.listen-address=127.0.0.1:{port}",
        *extra_args,
    ]
    with running(args, url, data.parent / "prometheus.log"):
        yield url


@contextmanager
def alertmanager(workdir: Path, config_text: str | None = None, port: int | None = None) -> Iterator[str]:
    """Alertmanager with clustering off and `config_text` (default: one do-nothing receiver); yields
    its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(config_text or "route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n")
    args = [
        installed()["prometheus-alertmanager"],
        f"--config.file={config}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running(args, url, workdir / "alertmanager.log"):
        yield url
