"""Run every doctor check against the settings as the bot and workers would read them."""

from __future__ import annotations

import re
from pathlib import Path

from bot.doctor import Finding, as_json, guarded_check, render
from bot.doctor.services import check_executors, check_llm, check_policy, check_prometheus, check_sources
from bot.doctor.slack_redis import check_redis, check_slack, check_workers
from workers.errors import ConfigError
from workers.redisconn import connect
from workers.settings import Settings


def run_doctor(env_file: Path | None, json_out: bool) -> int:
    try:
        settings = Settings.load(env_file=env_file)
    except ConfigError as exc:
        findings = [
            Finding("settings", "fail", p, "fix the variable (see README, Configuration)")
            for p in exc.problems
        ]
    else:
        findings = diagnose(settings)
    print(as_json(findings) if json_out else render(findings))
    return 1 if any(f.status == "fail" for f in findings) else 0


def diagnose(settings: Settings) -> list[Finding]:
    findings = guarded_check("slack", lambda: check_slack(settings))
    url = settings.redis.url.get_secret_value() if settings.redis.url else None
    shown = re.sub(r"//[^@/]*@", "//***@", url) if url else f"embedded Redis in {settings.redis.embedded_dir}"
    handle = connect(settings.redis)
    try:
        findings += guarded_check("redis", lambda: check_redis(handle.client, shown))
        findings += guarded_check("workers", lambda: check_workers(handle.client))
    finally:
        handle.close()
    findings += guarded_check("llm", lambda: check_llm(settings.llm))
    findings += guarded_check("sources", lambda: check_sources(settings))
    policy_findings, policy = check_policy(settings)
    findings += policy_findings
    findings += guarded_check("prometheus", lambda: check_prometheus(settings.policy.prometheus_url, policy))
    findings += guarded_check("executors", lambda: check_executors(settings))
    return findings
