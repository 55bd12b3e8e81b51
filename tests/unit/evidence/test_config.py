from pathlib import Path

import pytest

from workers.errors import ConfigError
from workers.evidence.config import load_sources

GOOD = """\
default_service: payments-svc
sources:
  - name: app-logs
    type: files
    paths: ["/var/log/{service}/*.log*"]
  - name: loki
    type: loki
    url: http://loki:3100
    query: '{app="{service}"}'
services:
  checkout-api: [loki]
  payments-svc: [app-logs, loki]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_sources_per_service_and_service_from_text(tmp_path: Path) -> None:
    cfg = load_sources(_write(tmp_path, GOOD))
    assert [s.name for s in cfg.for_service("checkout-api")] == ["loki"]
    assert [s.name for s in cfg.for_service("payments-svc")] == ["app-logs", "loki"]
    assert [s.name for s in cfg.for_service("unlisted")] == ["app-logs", "loki"]
    assert cfg.service_in("504s on checkout-api since 10:40") == "checkout-api"
    assert cfg.service_in("checkout-apiary is fine") == "payments-svc"  # whole names only
    assert cfg.service_in("something else") == "payments-svc"


def test_a_bad_field_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = GOOD.replace("    url: http://loki:3100\n", "    url: http://loki:3100\n    timeout_s: -1\n")
    with pytest.raises(ConfigError) as err:
        load_sources(_write(tmp_path, bad))
    assert any(":9: sources.1.timeout_s: Input should be greater than 0" in p for p in err.value.problems)


def test_unknown_type_missing_field_and_unknown_source_name(tmp_path: Path) -> None:
    text = GOOD.replace("type: files", "type: splunk").replace(
        "  checkout-api: [loki]", "  checkout-api: [lokki]"
    )
    with pytest.raises(ConfigError) as err:
        load_sources(_write(tmp_path, text))
    joined = "\n".join(err.value.problems)
    assert "sources.0" in joined and "splunk" in joined and ":3:" in joined


def test_unknown_source_names_in_services(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown sources"):
        load_sources(_write(tmp_path, GOOD.replace("[loki]", "[lokki]")))


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_sources(_write(tmp_path, "sources:\n  - name: a\n    paths: [unclosed\n"))
    assert "sources.yaml:" in err.value.problems[0] and "not valid YAML" in err.value.problems[0]
