from datetime import UTC, datetime

import pytest

from workers.redaction import ConsistentRedactor, Redactor, prepare_egress

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
JWT_2 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXR3by1mb3ItdGVzdHM"
AZURE_KEY = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmE+/w=="
GCP_KEY = "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
GITHUB = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    f"{PEM_BODY}\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----"
)

# (category, text with the secret in context, the secret itself)
CASES = [
    ("aws_access_key", "assuming role with AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "gcp_api_key",
        "GET /maps?key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    ),
    ("azure_key", f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={AZURE_KEY};", AZURE_KEY),
    ("slack_token", "posting with xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", "xoxb-123456789012"),
    (
        "slack_webhook",
        "webhook https://hooks.slack.com/services/T0AAA0AAA/B0BBB0BBB/abcdefghijklmnopqrstuvwx failed",
        "abcdefghijklmnopqrstuvwx",
    ),
    (
        "github_token",
        "clone with ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    ),
    ("openai_key", "llm key sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12", "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12"),
    (
        "anthropic_key",
        "llm key sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12-xyz",
        "sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12",
    ),
    ("stripe_key", "charge failed for rk_live_51HqLyjWDarjtT1zdp7dcXyz", "rk_live_51HqLyjWDarjtT1zdp7dcXyz"),
    ("jwt", f"session {JWT} expired", JWT),
    (
        "private_key",
        f"loaded key {PEM} from disk",
        "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    ),
    ("private_key", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun", "MIIEowIBAAKCAQEA"),
    ("url_password", "connecting to mysql://app:S3cr3t!pw@db.internal:3306/shop", "S3cr3t!pw"),
    ("url_password", "broker amqp://guest:gu3st-pass@rabbit:5672/", "gu3st-pass"),
    ("url_password", "cache redis://:r3dis-pass@cache:6379/0", "r3dis-pass"),
    ("password", "Server=db;Database=shop;User Id=app;Password=Tr0ub4dor &3;Encrypt=true", "Tr0ub4dor &3"),
    ("password", '{"user": "app", "db_password": "hunter2"}', "hunter2"),
    ("auth_header", "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l"),
    ("auth_header", "curl -H 'Authorization: Bearer 8a7sd6f5a4sd3f2a1sdf0' x", "8a7sd6f5a4sd3f2a1sdf0"),
    ("secret_assignment", "X-Api-Key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("secret_assignment", "client_secret='Q2xpZW50U2VjcmV0MTIz'", "Q2xpZW50U2VjcmV0MTIz"),
]


@pytest.mark.parametrize(("category", "text", "secret"), CASES)
def test_each_category_is_masked(category: str, text: str, secret: str) -> None:
    redactor = Redactor()
    out = redactor.redact(text)
    assert secret not in out
    assert f"[REDACTED:{category}]" in out
    assert redactor.counts[category] >= 1


def test_a_multi_line_pem_key_is_masked_whole_and_the_context_kept() -> None:
    out = Redactor().redact(f"before\n{PEM}\nafter")
    assert out == "before\n[REDACTED:private_key]\nafter"


def test_escaped_pem_in_service_account_json_keeps_the_json_shape() -> None:
    key = "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"
    out = Redactor().redact(f'{{"private_key_id": "1a2b3c4d5e6f7a8b9c0d", "private_key": "{key}"}}')
    assert (
        out == '{"private_key_id": "[REDACTED:secret_assignment]", "private_key": "[REDACTED:private_key]"}'
    )


def test_url_password_keeps_user_and_host() -> None:
    assert Redactor().redact("postgres://app:hunter2secret@db:5432/x") == (
        "postgres://app:[REDACTED:url_password]@db:5432/x"
    )


def test_known_values_are_masked_whatever_they_look_like() -> None:
    redactor = Redactor.with_secrets(["plainword-value", None, "", "short"])
    assert redactor.redact("got plainword-value and short") == "got [REDACTED:configured_secret] and short"


def test_redaction_is_idempotent() -> None:
    text = f"token={JWT} Authorization: Bearer {JWT_2} password=hunter2 AKIAIOSFODNN7EXAMPLE"
    redactor = Redactor()
    once = redactor.redact(text)
    assert redactor.redact(once) == once


ORDINARY = [
    "request_id=3f2a9c1e-4b7d-4e8a-9f0c-1a2b3c4d5e6f completed in 12ms",
    "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 deployed",
    "trace=dGhpcyBpcyBhIHJlcXVlc3QgaWQ= span=00f067aa0ba902b7 sampled=1",
    'etag W/"5e15153d-120f" sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709',
    "password reset requested for account 4411; max_tokens=512 tokens: 80",
    "GET /api/v1/orders/8f14e45fceea167a5a36dedd4bea2543 200 basic auth disabled",
    "failed to refresh token: connection refused (retry 3/5)",
    "user alice@example.com from 10.0.3.17 at 12:30:45",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Skipping task-scheduler-worker-abcdefghijklmnopqrstuvwx, disk-usage-abcdefghijklmnopqrstuvwx",
]


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_lines_pass_through(line: str) -> None:
    assert Redactor().redact(line) == line


def test_emails_and_ip_addresses_only_on_request() -> None:
    line = "login alice@example.com from 10.0.3.17 via 2001:db8::8a2e:370:7334 at 12:30:45 v1.2.3"
    assert Redactor().redact(line) == line
    out = Redactor(pii=frozenset({"email", "ipv4", "ipv6"})).redact(line)
    assert out == "login [REDACTED:email] from [REDACTED:ipv4] via [REDACTED:ipv6] at 12:30:45 v1.2.3"
    with pytest.raises(ValueError, match="unknown PII"):
        Redactor(pii=frozenset({"phone"}))


def test_consistent_placeholders_correlate_and_are_deterministic() -> None:
    lines = [f"a {JWT}", f"b {JWT_2}", f"c token={JWT}", "d AKIAIOSFODNN7EXAMPLE", f"e Bearer {JWT_2}"]
    first = [ConsistentRedactor().redact(line) for line in lines[:1]]
    redactor = ConsistentRedactor()
    out = [redactor.redact(line) for line in lines]
    assert out == [
        "a [REDACTED:jwt#1]",
        "b [REDACTED:jwt#2]",
        "c token=[REDACTED:jwt#1]",
        "d [REDACTED:aws_access_key#1]",
        "e Bearer [REDACTED:jwt#2]",
    ]
    again = ConsistentRedactor()
    assert [again.redact(line) for line in lines] == out
    assert first == out[:1]
    assert redactor.counts == {"jwt": 4, "aws_access_key": 1}


def test_consistent_redactor_keeps_no_secret_in_its_state() -> None:
    redactor = ConsistentRedactor.with_secrets(["configured-secret-1"])
    redactor.redact(f"{JWT} configured-secret-1")
    state = repr(redactor) + repr(redactor._numbers)
    assert JWT not in state and JWT.split(".")[2] not in state
    assert "configured-secret-1" not in repr(redactor)


def test_egress_record_describes_one_request() -> None:
    redactor = ConsistentRedactor()
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    body, record = prepare_egress(
        redactor,
        "https://user:pw@api.example.com:8443/v1/chat?key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe#x",
        f"digest with {JWT} and {JWT} and AKIAIOSFODNN7EXAMPLE",
        "llm summary",
        now=at,
    )
    assert body == "digest with [REDACTED:jwt#1] and [REDACTED:jwt#1] and [REDACTED:aws_access_key#1]"
    assert record.url == "https://api.example.com:8443/v1/chat"
    assert record.host == "api.example.com"
    assert record.purpose == "llm summary" and record.at == at
    assert record.masked == {"jwt": 2, "aws_access_key": 1}
    assert record.bytes_sent == len(body.encode())
    _, second = prepare_egress(redactor, "https://hooks.slack.com/services/T0/B0/abcdefgh", "ok", "post")
    assert second.masked == {} and second.host == "hooks.slack.com"
    assert "abcdefgh" not in second.url


RANDOM_TOKENS = [
    "kQwErTyUiOpAsDfGhJkLzXcVbNmQwErTzXcV",  # letters only, no digit
    "Zx8Qp2Lm9Rt4Vb7Nc1Ks5Wd3Hg6Jf0Ya2Ue8",
    "q7vz0kx3m9wp2rt5yb8nc4hs1dj6fg0lueaq",  # lower case and digits
]
IDENTIFIERS = [
    "AbstractSingletonProxyFactoryBean",
    "ConnectionRefusedException",
    "observeValueForKeyPath",
    "payments-svc-7d9f8b6c5-x2kq9",
    "req-38101a0b-2096-447d-96ea-a692162415ae",
    "3f786850e387550fdab836ed7e6dc881de23001b",
    "/var/lib/kubelet/pods/payments/volumes/config",
    "application_1485248649253_0147",
    "x" * 40,
]


@pytest.mark.parametrize("token", RANDOM_TOKENS)
def test_a_random_token_of_no_known_format_is_masked(token: str) -> None:
    out = Redactor().redact(f'upstream said {{"blob": "{token}"}} and closed')
    assert token[:12] not in out and "[REDACTED:high_entropy]" in out


@pytest.mark.parametrize("name", IDENTIFIERS)
def test_identifiers_ids_and_paths_are_not_taken_for_secrets(name: str) -> None:
    line = f"ERROR {name} failed after 3 retries"
    assert Redactor().redact(line) == line


def test_a_raw_line_is_redacted_with_its_labels_before_it_enters_the_digest() -> None:
    from workers.evidence.model import LogLine
    from workers.redaction import redact_line

    line = LogLine("auth with ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 failed", labels={"token": GITHUB})
    out = redact_line(line, Redactor())
    assert GITHUB not in out.text and GITHUB not in out.labels["token"] and out.ts == line.ts


def test_no_template_or_quote_of_the_digest_holds_a_piece_of_a_key() -> None:
    """A digit-free run of a key once stayed literal in a template while the id mask took the rest."""
    from datetime import UTC, datetime, timedelta

    from workers.evidence.digest import digest_logs
    from workers.evidence.model import LogLine, TimeWindow
    from workers.evidence.tokens import TokenCounter

    start = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
    keys = ["sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12-MnOpQrStUvWxYzAbCdEf", JWT, JWT_2]
    lines = [
        LogLine(f"ERROR call {i} failed with key {keys[i % 3]} for user {i}", ts=start + timedelta(seconds=i))
        for i in range(30)
    ]
    digest = digest_logs(
        lines,
        budget_tokens=2000,
        counter=TokenCounter.for_configured_model("gpt-4o-mini"),
        redactor=ConsistentRedactor(),
        incident=TimeWindow(start, start + timedelta(minutes=5)),
    )
    text = digest.render()
    for key in keys:
        assert not any(key[i : i + 12] in text for i in range(len(key) - 11)), key
    assert "[REDACTED:" in text


@pytest.mark.parametrize(("category", "text", "secret"), CASES)
def test_the_screen_never_waves_through_a_line_with_a_secret(category: str, text: str, secret: str) -> None:
    redactor = Redactor(pii=frozenset({"email"}))
    plain = Redactor()
    assert plain.may_hold_secret(text) and redactor.may_hold_secret(text)
    for line in (text, text.upper(), f"[pod/api-7d9f8] {text} (retry 3)"):
        for screen in (plain, redactor):  # passed over only when no rule would change it
            assert screen.may_hold_secret(line) or screen.redact(line) == line


def test_a_line_the_screen_passes_over_is_one_no_rule_would_change() -> None:
    """The screen is exact, not a heuristic: on lines of every shape, when it says no secret can be
    there, the full redactor agrees line for line (and with a known value set, it never says no)."""
    import random

    rng = random.Random(5)
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFKLMNOPQSTXYZ0123456789 =:;,./-_&?~'\"@"
    words = ["key", "token", "secret", "passwd", "bearer", "sig=", "://", "eyJ", "ghp_", "AKIA", "sk-"]
    redactor = Redactor()
    screened = 0
    for _ in range(3000):
        parts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) for _ in range(4)]
        if rng.random() < 0.3:
            parts.insert(rng.randrange(5), rng.choice(words))
        line = " ".join(parts)
        if not redactor.may_hold_secret(line):
            screened += 1
            assert redactor.redact(line) == line
    assert screened > 100  # the screen does pass over ordinary lines
    assert Redactor.with_secrets(["hunter2hunter2"]).may_hold_secret("nothing here")


def test_the_screen_decides_for_every_line_of_a_shape() -> None:
    """The screen's verdict is kept per shape (every digit a 1): when it passes over one line, the full
    redactor leaves every line of that shape (the same text with other digits) as it is, long runs of
    base64 characters, vendor prefixes and digit-bearing gates (`sq0`, `_v1_`, `ya29.`) included."""
    import random

    rng = random.Random(11)
    pieces = [
        "blk_-", "sq0atp-", "do_v1_", "ya29.", "AKIA", "ghp_", "sk-", "eyJ", "key=", "s.", "b.", "-us",
        "xapp-1-", "AGE-SECRET-KEY-1", "ATATT3", ":AA", "id=", "/var/lib/", "user", "Session", "Token",
    ]
    chars = "abcdefghijkmnopqrstuvwxyzABCDEFGHKLMNPQRSTUVWXYZ0123456789_-/+"
    redactor = Redactor()
    passed = 0
    for _ in range(3000):
        words = []
        for _ in range(rng.randrange(1, 5)):
            word = rng.choice(pieces) if rng.random() < 0.5 else ""
            words.append(word + "".join(rng.choice(chars) for _ in range(rng.randrange(4, 48))))
        line = " ".join(words)
        if redactor.may_hold_secret(line):
            continue
        passed += 1
        for _ in range(8):
            other = "".join(rng.choice("0123456789") if c.isdigit() else c for c in line)
            assert not redactor.may_hold_secret(other)  # the same shape, the same verdict
            assert redactor.redact(other) == other, other
    assert passed > 300  # long runs that are ids and names are passed over, not all sent to the rules
