"""The Helm chart rendered by Helm's own engine (helm-python-sdk bundles its library), the Dockerfile
through hadolint, and the Slack manifest printed by `incident-copilot manifest`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import Chart, HelmError

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "incident-copilot"
REQUIRED = {
    "secrets": {"slackBotToken": "xoxb-1", "slackSigningSecret": "s3cr3t", "redisUrl": "redis://r:6379/0"}
}
CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": REQUIRED,
    "socket-mode": {"mode": "socket", "secrets": {**REQUIRED["secrets"], "slackAppToken": "xapp-1-A-1"}},
    "bundled-redis": {"secrets": {"slackBotToken": "xoxb-1"}, "redis": {"bundled": {"enabled": True}}},
    "keda-ingress-prompts-executors": {
        **REQUIRED,
        "worker": {"keda": {"enabled": True, "redisAddress": "redis.ops:6379"}},
        "ingress": {"enabled": True, "host": "copilot.corp.example"},
        "prompts": {"triage/system.j2": "{# name: triage/system  version: 9 #}\nhi\n"},
        "executors": {
            "existingSecret": "kube-executor-credentials",
            "kubernetes": {"inCluster": True, "namespaces": ["shop", "payments"]},
        },
        "serviceMonitor": {"enabled": True},
        "logSources": "sources: []\n",
        "policy": (REPO / "policies" / "default.yaml").read_text(),
        "prometheusUrl": "http://prometheus.monitoring:9090",
        "alerts": {"existingSecret": "alert-receivers", "config": "grouping: {window_minutes: 30}\n"},
    },
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = Chart.load(str(CHART)).render(values, name="ic", namespace="ops")
    docs = [d for name, text in out.items() if name.endswith(".yaml") for d in yaml.safe_load_all(text)]
    return [d for d in docs if d]


def containers(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, pod spec, container) for every container of every workload."""
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            pod = d["spec"]["template"]["spec"]
            out += [(d["metadata"]["name"], pod, c) for c in pod["containers"]]
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=list(CONFIGS))
def test_every_container_is_non_root_limited_and_probed(config: str) -> None:
    docs = render(CONFIGS[config])
    found = containers(docs)
    assert {name.rsplit("-", 1)[1] for name, _, _ in found} >= {"bot", "worker"}
    for name, pod, c in found:
        sc, psc = c["securityContext"], pod["securityContext"]
        assert sc["runAsNonRoot"] and psc["runAsNonRoot"] and psc["runAsUser"] != 0, name
        assert sc["readOnlyRootFilesystem"] and sc["capabilities"]["drop"] == ["ALL"], name
        assert not sc["allowPrivilegeEscalation"], name
        assert c["resources"]["requests"] and c["resources"]["limits"], name
        assert c["livenessProbe"] and c["readinessProbe"], name


@pytest.mark.parametrize("config", CONFIGS, ids=list(CONFIGS))
def test_no_secret_in_a_configmap_and_executor_credentials_only_in_workers(config: str) -> None:
    docs = render(CONFIGS[config])
    secrets = [v for v in CONFIGS[config].get("secrets", {}).values() if v]
    for d in docs:
        if d["kind"] == "ConfigMap":
            text = yaml.safe_dump(d)
            assert not any(s in text for s in secrets), d["metadata"]["name"]
    for name, _pod, c in containers(docs):
        refs = [e for e in c.get("envFrom", [])] + [e for e in c.get("env", []) if "valueFrom" in e]
        if name.endswith("-bot"):
            assert "kube-executor-credentials" not in yaml.safe_dump(refs)
        for e in c.get("env", []):
            assert e.get("value") not in secrets, (name, e["name"])  # secrets only by reference


def test_each_configuration_renders_what_it_asks_for() -> None:
    kinds = {name: {(d["kind"], d["metadata"]["name"]) for d in render(v)} for name, v in CONFIGS.items()}
    assert ("Service", "ic-incident-copilot-bot") in kinds["defaults"]
    assert ("HorizontalPodAutoscaler", "ic-incident-copilot-worker") in kinds["defaults"]
    assert not any(k == "Service" for k, _ in kinds["socket-mode"])  # nothing to call in Socket Mode
    assert ("StatefulSet", "ic-incident-copilot-redis") in kinds["bundled-redis"]
    keda = kinds["keda-ingress-prompts-executors"]
    assert ("ScaledObject", "ic-incident-copilot-worker") in keda and (
        "Ingress",
        "ic-incident-copilot",
    ) in keda
    assert not any(k == "HorizontalPodAutoscaler" for k, _ in keda)
    worker = next(
        c for n, _, c in containers(render(CONFIGS["keda-ingress-prompts-executors"])) if n.endswith("worker")
    )
    assert worker["envFrom"] == [{"secretRef": {"name": "kube-executor-credentials"}}]
    assert {"name": "PROMPTS_DIR", "value": "/etc/incident-copilot/prompts"} in worker["env"]
    assert {"name": "POLICY_FILE", "value": "/etc/incident-copilot/policy/policy.yaml"} in worker["env"]
    assert ("ConfigMap", "ic-incident-copilot-policy") in keda
    bot = next(
        c for n, _, c in containers(render(CONFIGS["keda-ingress-prompts-executors"])) if n.endswith("bot")
    )
    assert {"name": "POLICY_FILE", "value": "/etc/incident-copilot/policy/policy.yaml"} in bot["env"]
    # approvals are checked in the bot; executor credentials stay in workers
    assert "kube-executor-credentials" not in str(bot.get("envFrom", []))
    assert {"name": "EXECUTOR_KUBERNETES", "value": "in-cluster"} in worker["env"]
    docs = render(CONFIGS["keda-ingress-prompts-executors"])
    roles = [d for d in docs if d["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["payments", "shop"]
    assert roles[0]["rules"][0]["resources"] == ["deployments", "deployments/scale"]
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Deployment"}
    assert pods["ic-incident-copilot-worker"]["serviceAccountName"] == "ic-incident-copilot-worker"
    assert pods["ic-incident-copilot-bot"]["automountServiceAccountToken"] is False
    redis = next(c for n, _, c in containers(render(CONFIGS["bundled-redis"])) if n.endswith("redis"))
    assert "--appendonly yes --appendfsync everysec" in redis["args"][0]


def test_the_bundled_redis_has_a_password_from_a_secret_and_a_volume() -> None:
    docs = render(CONFIGS["bundled-redis"])
    secret = next(
        d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "ic-incident-copilot-redis"
    )
    assert len(secret["data"]["redis-password"]) >= 32
    redis_set = next(d for d in docs if d["kind"] == "StatefulSet")
    server = redis_set["spec"]["template"]["spec"]["containers"][0]
    assert '--requirepass "$REDISCLI_AUTH"' in server["args"][0]
    ref = {"secretKeyRef": {"name": "ic-incident-copilot-redis", "key": "redis-password"}}
    assert {"name": "REDISCLI_AUTH", "valueFrom": ref} in server["env"]
    assert redis_set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    for name, _pod, container in containers(docs):
        if not name.endswith("redis"):
            env = container["env"]
            assert {"name": "REDIS_PASSWORD", "valueFrom": ref} in env
            url = next(e["value"] for e in env if e["name"] == "REDIS_URL")
            assert url == "redis://:$(REDIS_PASSWORD)@ic-incident-copilot-redis:6379/0"
            assert [e["name"] for e in env].index("REDIS_PASSWORD") < [e["name"] for e in env].index(
                "REDIS_URL"
            )
    own = render(
        {**CONFIGS["bundled-redis"], "redis": {"bundled": {"enabled": True, "passwordSecret": "mine"}}}
    )
    assert not any(d["kind"] == "Secret" and d["metadata"]["name"].endswith("-redis") for d in own)


def test_a_missing_redis_is_refused_with_what_to_set() -> None:
    with pytest.raises(HelmError, match=r"Redis: set secrets\.redisUrl"):
        render({"secrets": {"slackBotToken": "xoxb-1"}})


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (REPO / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text and text.count("FROM ") == 2


def test_alert_receiver_secrets_reach_the_bot_only_and_the_alerts_file_both() -> None:
    found = {
        name.rsplit("-", 1)[1]: c
        for name, _, c in containers(render(CONFIGS["keda-ingress-prompts-executors"]))
    }
    secrets_from = {k: [e["secretRef"]["name"] for e in c.get("envFrom", [])] for k, c in found.items()}
    assert "alert-receivers" in secrets_from["bot"] and "alert-receivers" not in secrets_from["worker"]
    for c in (found["bot"], found["worker"]):
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["ALERTS_CONFIG_FILE"] == "/etc/incident-copilot/alerts/alerts.yaml"
        assert {"name": "alerts", "mountPath": "/etc/incident-copilot/alerts", "readOnly": True} in c[
            "volumeMounts"
        ]
