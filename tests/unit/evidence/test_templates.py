from datetime import UTC, datetime, timedelta

import pytest

from workers.evidence.model import LogLine
from workers.evidence.templates import TemplateMiner, detect_severity, mask, split_header, template_id

T0 = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retry 3 of 10", "retry <NUM> of <NUM>"),
        ("offset=-42 ratio 0.75", "offset=<NUM> ratio <NUM>"),
        ("flags=0x1f checksum deadbeef1234", "flags=<HEX> checksum <HEX>"),
        ("peer 10.0.3.17:8080 down", "peer <IP> down"),
        ("bound to fe80::1:2:3:4", "bound to <IP>"),
        ("req 550e8400-e29b-41d4-a716-446655440000 done", "req <UUID> done"),
        ("wrote /var/lib/app/data.db", "wrote <PATH>"),
        ("loaded C:\\Windows\\system32\\x.dll", "loaded <PATH>"),
        ("at 2026-03-01T12:00:30.123Z ok", "at <TS> ok"),
        ("Jun 14 15:16:01 host sshd[42]: bye", "<TS> host sshd[<NUM>]: bye"),
        ("[Sun Dec 04 04:47:44 2005] [error] x", "[<TS>] [error] x"),
        ("took 250ms then 3.2s then 5 seconds", "took <DURATION> then <DURATION> then <DURATION>"),
        ("mail bob.smith@example.com", "mail <EMAIL>"),
        ("mail to bob@example.com at 9", "mail to <EMAIL> at <NUM>"),
        ("block blk_-6952295868487656571 on t761", "block <ID> on <ID>"),
        ("GET https://api.example.com/v2/items?id=7 failed", "GET <URL> failed"),
        ("lock=233570404, taskID[2019352994]", "lock=<NUM>, taskID[<NUM>]"),
        ("stack @0x7fe @0x7ff @0x800)", "stack @<HEX>)"),
        ("no variables here at all", "no variables here at all"),
        ("closed, 1300 bytes (1.3 KB) sent, 0 bytes in", "closed, <NUM> bytes sent, <NUM> bytes in"),
        ("copied 1048576 bytes (1.0 MiB)", "copied <NUM> bytes"),
        ("retry (3 of 5)", "retry (<NUM> of <NUM>)"),
    ],
)
def test_mask_replaces_each_variable_type(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01 12:00:00 FATAL out of memory", "fatal"),
        ("kernel: PANIC: not syncing", "fatal"),
        ("SEVERE: pool exhausted", "fatal"),
        ("<2>Mar 1 12:00:00 host crit thing", "fatal"),
        ("[error] mod_jk child in error state", "error"),
        ("Traceback (most recent call last):", "error"),
        ("java.lang.NullPointerException at Foo.bar", "error"),
        ("E0301 12:00:00.123456  1 server.go:42] listen failed", "error"),
        ("03-17 16:13:38.811  1702  2395 E ActivityManager: ANR", "error"),
        ("level=Warning disk 91% full", "warning"),
        ("W0301 12:00:00.1  1 x.go:1] slow", "warning"),
        ("2026-03-01 INFO started; previous error cleared", "info"),
        ("[notice] workerEnv.init() ok", "info"),
        ("debug: cache miss", "debug"),
        ("<14>Mar 1 12:00:00 host app: hello", "info"),
        ("all quiet on the western front", "unknown"),
    ],
)
def test_detect_severity_forms(text: str, expected: str) -> None:
    assert detect_severity(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<TS> myhost sshd[<NUM>]: Accepted key", "Accepted key"),
        ("<TS> <NUM> <NUM> D WindowManager: Skipping token", "Skipping token"),
        ("<TS> INFO dfs.DataNode$PacketResponder: PacketResponder <NUM>", "PacketResponder <NUM>"),
        ("[<TS>] [error] mod_jk child in error state", "mod_jk child in error state"),
        ("Error: disk full on <PATH>", "Error: disk full on <PATH>"),  # no header: first word kept
    ],
)
def test_split_header_sets_the_header_aside(text: str, expected: str) -> None:
    assert split_header(text) == expected


def _feed(miner: TemplateMiner, texts: list[str], window: str = "incident") -> list[str]:
    return [miner.add(LogLine(text, ts=T0 + timedelta(seconds=i)), window) for i, text in enumerate(texts)]


def test_lines_of_one_event_group_together_and_others_apart() -> None:
    miner = TemplateMiner()
    ids = _feed(
        miner,
        [
            "Mar  1 12:00:01 web1 sshd[101]: Failed password for root from 10.0.0.1 port 5022 ssh2",
            "Mar  1 12:00:02 web2 sshd[102]: Failed password for admin from 10.0.0.2 port 5023 ssh2",
            "Mar  1 12:00:03 web1 sshd[103]: Accepted publickey for deploy from 10.0.0.3 port 5024 ssh2",
            "Mar  1 12:00:04 web3 sshd[104]: Failed password for guest from 10.0.0.9 port 6000 ssh2",
            "Mar  1 12:00:05 web1 sshd[105]: Connection closed by 10.0.0.4 [preauth]",
            "Mar  1 12:00:06 web1 sshd[106]: Received disconnect from 10.0.0.5: 11: Bye Bye [preauth]",
        ],
    )
    assert ids[0] == ids[1] == ids[3]
    assert len({ids[0], ids[2], ids[4], ids[5]}) == 4
    templates = {t.id: t.template for t in miner.templates()}
    assert templates[ids[0]] == "Failed password for <*> from <IP> port <NUM> <ID>"  # ssh2: mixed alnum
    assert len(miner) == 4


def test_template_id_is_stable_when_the_template_generalises() -> None:
    miner = TemplateMiner()
    first = miner.add(LogLine("user alice logged in from kiosk"))
    assert first == template_id("user alice logged in from kiosk")
    assert miner.add(LogLine("user bob logged in from kiosk")) == first
    (stats,) = miner.templates()
    assert stats.template == "user <*> logged in from kiosk"
    assert stats.id == first
    assert TemplateMiner().add(LogLine("user alice logged in from kiosk")) == first  # same text, same id


def test_exemplars_are_verbatim_first_and_most_recent() -> None:
    miner = TemplateMiner(exemplars=3)
    lines = [
        LogLine(f"job {n} finished in {n}ms", ts=T0, source="loki", labels={"n": str(n)}) for n in range(6)
    ]
    for line in lines:
        miner.add(line)
    (stats,) = miner.templates()
    assert stats.exemplars == [lines[0], lines[4], lines[5]]
    assert stats.exemplars[0] is lines[0]
    assert stats.count == 6 and stats.template == "job <NUM> finished in <DURATION>"


def test_counts_per_window_times_and_minute_buckets() -> None:
    miner = TemplateMiner()
    stamps = [T0, T0 + timedelta(seconds=20), T0 + timedelta(seconds=40), T0 - timedelta(minutes=5)]
    for n, ts in enumerate(stamps):
        miner.add(LogLine(f"GC pause {n}", ts=ts), "baseline" if n == 3 else "incident")
    miner.add(LogLine("GC pause 9"))  # no timestamp: counted, not bucketed
    (stats,) = miner.templates()
    assert stats.count == 5
    assert stats.counts == {"incident": 4, "baseline": 1}
    assert stats.first_seen == T0 - timedelta(minutes=5)
    assert stats.last_seen == T0 + timedelta(seconds=40)
    assert stats.per_minute == {
        datetime(2026, 3, 1, 11, 55, tzinfo=UTC): 1,
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC): 2,
        datetime(2026, 3, 1, 12, 1, tzinfo=UTC): 1,
    }


def test_naive_and_other_zone_timestamps_bucket_in_utc() -> None:
    from datetime import timezone

    miner = TemplateMiner()
    miner.add(LogLine("tick 1", ts=datetime(2026, 3, 1, 14, 7, 59, tzinfo=timezone(timedelta(hours=2)))))
    miner.add(LogLine("tick 2", ts=datetime(2026, 3, 1, 12, 7, 1)))
    (stats,) = miner.templates()
    assert stats.per_minute == {datetime(2026, 3, 1, 12, 7, tzinfo=UTC): 2}


def test_severity_is_the_worst_seen_for_the_template() -> None:
    miner = TemplateMiner()
    miner.add(LogLine("2026-03-01 12:00:00 INFO cache node 3 slow"))
    miner.add(LogLine("2026-03-01 12:00:01 ERROR cache node 4 slow"))
    assert [(t.template, t.severity) for t in miner.templates()] == [("cache node <NUM> slow", "error")]


def test_memory_is_bounded_and_rare_stale_templates_are_evicted() -> None:
    miner = TemplateMiner(max_templates=20)
    heartbeat = ""
    for n in range(200):
        heartbeat = miner.add(LogLine("heartbeat ok"), "baseline")
        word = "".join(chr(97 + n // 26**k % 26) for k in range(3))
        miner.add(LogLine(f"{word}q {word}r {word}s"), "baseline")  # 200 unrelated one-off lines
    assert len(miner) <= 20
    assert miner.evicted >= 180
    assert heartbeat in {t.id for t in miner.templates()}  # the frequent template survives


def test_eviction_never_drops_an_error_or_an_incident_template() -> None:
    miner = TemplateMiner(max_templates=20)
    rare_error = miner.add(LogLine("FATAL ledger journal corrupt"), "baseline")
    rare_incident = miner.add(LogLine("cert rotation applied to edge"), "incident")
    for n in range(300):
        word = "".join(chr(97 + n // 26**k % 26) for k in range(3))
        miner.add(LogLine(f"{word}q {word}r {word}s"), "baseline")
    kept = {t.id for t in miner.templates()}
    assert len(miner) <= 22 and miner.evicted >= 270
    assert {rare_error, rare_incident} <= kept


def test_exact_repeats_take_the_cache_and_an_evicted_template_comes_back() -> None:
    miner = TemplateMiner(max_templates=1)
    first = miner.add(LogLine("disk sda full"), "baseline")
    assert miner.add(LogLine("disk sda full"), "baseline") == first
    miner.add(LogLine("a completely different line here"), "baseline")  # evicts the disk template
    assert len(miner) == 1 and miner.evicted == 1
    assert miner.add(LogLine("disk sda full"), "baseline") == first  # recreated under the same id
    assert miner.templates()[0].count == 1


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        TemplateMiner(max_templates=0)
