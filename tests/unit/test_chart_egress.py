"""The README's own `helm install` example, rendered by Helm's engine with Helm's `--set` parser
(helm-python-sdk bundles both): every destination it configures is reachable under the chart's
NetworkPolicy on its own port and no other, each container gets only the secrets it uses, and the
image is the one the README builds and pushes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from helm_python import Chart, parse_set_string

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PORTS = {"http": 80, "https": 443, "redis": 6379, "rediss": 6379}


def readme_example() -> tuple[list[str], list[str]]:
    """The README's `docker push` and `helm install` commands, as argument lists."""
    block = next(
        b
        for b in re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.S)
        if "helm install" in b
    )
    commands = [shlex.split(c) for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    push = next(c for c in commands if c[:2] == ["docker", "push"])
    install = next(c for c in commands if c[:2] == ["helm", "install"])
    return push, install


def render_install(install: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    release, chart = install[2], install[3]
    namespace = install[install.index("-n") + 1]
    values: dict[str, Any] = {}
    for n, arg in enumerate(install):
        if arg == "--set":
            _merge(values, parse_set_string(install[n + 1]))  # each --set into the same map, as Helm does
    out = Chart.load(str(REPO / chart)).render(values, name=release, namespace=namespace)
    docs = [d for name, text in out.items() if name.endswith(".yaml") for d in yaml.safe_load_all(text)]
    return values, [d for d in docs if d]


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def destination(url: str) -> tuple[str | None, int]:
    """(namespace of an in-cluster svc.namespace host, else None for a public one; port)."""
    parts = urlsplit(url)
    labels = (parts.hostname or "").split(".")
    public = len(labels) != 2 or parts.hostname == "slack.com"
    return (None if public else labels[1]), parts.port or DEFAULT_PORTS[parts.scheme]


def admits(policy: dict[str, Any], namespace: str | None, port: int) -> bool:
    """Whether an egress rule lets a pod reach `port` in `namespace` (None: a public address)."""
    for rule in policy["spec"]["egress"]:
        if not any(p["port"] == port for p in rule.get("ports", [])):
            continue
        for peer in rule.get("to", []):
            if namespace is None and peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0":
                return True
            labels = peer.get("namespaceSelector", {}).get("matchLabels", {})
            if namespace is not None and labels.get("kubernetes.io/metadata.name") == namespace:
                return True
    return False


def test_the_readme_helm_example_reaches_every_destination_and_nothing_else() -> None:
    push, install = readme_example()
    values, docs = render_install(install)
    [policy] = [d for d in docs if d["kind"] == "NetworkPolicy"]
    wanted = {
        "Slack": "https://slack.com/api/",
        "Redis": values["secrets"]["redisUrl"],
        "LLM": values["llm"]["baseUrl"],
    }
    for what, url in wanted.items():
        namespace, port = destination(url)
        assert admits(policy, namespace, port), f"{what} ({url}) is blocked:\n{yaml.safe_dump(policy)}"
    redis_ns, _ = destination(wanted["Redis"])
    assert not admits(policy, redis_ns, 5432) and not admits(policy, None, 5432)  # only the ports named
    assert not admits(policy, None, 80)

    pods = {d["metadata"]["name"].rsplit("-", 1)[-1]: d["spec"]["template"]["spec"] for d in docs
            if d["kind"] == "Deployment"}  # fmt: skip
    env = {name: {e["name"] for e in pod["containers"][0]["env"]} for name, pod in pods.items()}
    assert "SLACK_SIGNING_SECRET" in env["bot"] and "SLACK_SIGNING_SECRET" not in env["worker"]
    assert all(pod["containers"][0]["image"] == push[2] for pod in pods.values())


def test_egress_follows_log_sources_prometheus_and_extra_destinations() -> None:
    _, install = readme_example()
    values, _ = render_install(install)
    values["logSources"] = (
        "sources:\n  - {name: loki, type: loki, url: 'http://loki.monitoring.svc:3100', query: x}\n"
        "  - {name: k8s, type: kubernetes, namespace: prod, selector: app=x}\n"
    )
    values["prometheusUrl"] = "http://10.20.0.5:9090"
    values["networkPolicy"] = {"destinations": ["http://alertmanager.monitoring.svc.cluster.local:9093"]}
    out = Chart.load(str(REPO / "helm" / "incident-copilot")).render(values, name="copilot", namespace="ops")
    policy = yaml.safe_load(out["incident-copilot/templates/networkpolicy.yaml"])
    assert admits(policy, "monitoring", 3100) and admits(policy, "monitoring", 9093)
    assert not admits(policy, None, 3100)  # a .svc name stays in its namespace
    assert any(
        {"ipBlock": {"cidr": "10.20.0.5/32"}} in r.get("to", [])
        and r["ports"] == [{"port": 9090, "protocol": "TCP"}]
        for r in policy["spec"]["egress"]
    )
    assert admits(policy, None, 6443)  # the API server, for the kubernetes log source
