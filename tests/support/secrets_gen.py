"""Credentials of many kinds, with random parts, for leak tests: each kind builds the secret as it
would appear in a log line and returns the random parts a leak check must never find.

The random parts come from a `random.Random` the caller seeds (Hypothesis does), so a failing case
replays exactly. Lengths and alphabets follow each vendor's documented shape.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

B62 = string.ascii_letters + string.digits
B64 = B62 + "+/"
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
UPPER_B32 = string.ascii_uppercase + "234567"
LETTERS = string.ascii_letters


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[[random.Random], tuple[str, list[str]]]  # (text with the secret, random parts)


def _simple(
    prefix: str, alphabet: str, n: int, suffix: str = ""
) -> Callable[[random.Random], tuple[str, list[str]]]:
    def make(rng: random.Random) -> tuple[str, list[str]]:
        part = _r(rng, alphabet, n)
        return f"{prefix}{part}{suffix}", [part]

    return make


def _jwt(rng: random.Random) -> tuple[str, list[str]]:
    def seg(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    payload = seg({"sub": _r(rng, B62, 24), "exp": rng.randint(1_700_000_000, 1_900_000_000)})
    signature = _r(rng, B64URL, 43)
    return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{payload}.{signature}", [payload[12:], signature]


def _pem(rng: random.Random) -> tuple[str, list[str]]:
    body = [_r(rng, B64, 64) for _ in range(3)]
    text = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(body) + "\\n-----END PRIVATE KEY-----"
    return f'{{"tls_key": "{text}"}}', body


def _slack_bot(rng: random.Random) -> tuple[str, list[str]]:
    part = _r(rng, B62, 24)
    return f"xoxb-{rng.randint(10**11, 10**12 - 1)}-{rng.randint(10**12, 10**13 - 1)}-{part}", [part]


def _url_password(scheme: str, port: int) -> Callable[[random.Random], tuple[str, list[str]]]:
    def make(rng: random.Random) -> tuple[str, list[str]]:
        part = _r(rng, B62 + "!*", 20)
        return f"{scheme}://app:{part}@db.internal:{port}/orders", [part]

    return make


def _sendgrid(rng: random.Random) -> tuple[str, list[str]]:
    a, b = _r(rng, B64URL, 22), _r(rng, B64URL, 43)
    return f"SG.{a}.{b}", [a, b]


def _basic(rng: random.Random) -> tuple[str, list[str]]:
    raw = f"svc-orders:{_r(rng, B62, 24)}"
    encoded = base64.b64encode(raw.encode()).decode()
    return f"Authorization: Basic {encoded}", [encoded, raw.split(":")[1]]


KINDS: tuple[Kind, ...] = (
    Kind("aws_access_key", _simple("AKIA", UPPER_B32, 16)),
    Kind("aws_secret_key", _simple("aws_secret_access_key=", B64, 40)),
    Kind("github_pat", _simple("ghp_", B62, 36)),
    Kind("github_fine_grained", _simple("github_pat_11A", B62 + "_", 79)),
    Kind("gitlab_pat", _simple("glpat-", B62 + "-_", 20)),
    Kind("slack_bot_token", _slack_bot),
    Kind("slack_webhook", _simple("https://hooks.slack.com/services/T0AAA0AAA/B0BBB0BBB/", B62, 24)),
    Kind("openai_key", _simple("sk-proj-", B62 + "-_", 48)),
    Kind("anthropic_key", _simple("sk-ant-api03-", B62 + "-_", 80)),
    Kind("stripe_live_key", _simple("sk_live_", B62, 24)),
    Kind("gcp_api_key", _simple("AIza", B62 + "-_", 35)),
    Kind("jwt", _jwt),
    Kind("private_key_pem", _pem),
    Kind("postgres_url", _url_password("postgres", 5432)),
    Kind("mongodb_srv_url", _url_password("mongodb+srv", 27017)),
    Kind("jdbc_password", _simple("jdbc:mysql://db:3306/app?user=app&password=", B62, 22)),
    Kind("ado_connection_string", _simple("Server=db;User Id=app;Password=", B62, 22, ";Encrypt=true")),
    Kind(
        "azure_storage_key",
        _simple("DefaultEndpointsProtocol=https;AccountName=x;AccountKey=", B64, 86, "=="),
    ),
    Kind("bearer_header", _simple("Authorization: Bearer ", B64URL, 40)),
    Kind("basic_header", _basic),
    Kind("json_field_high_entropy", _simple('{"session_blob": "', B62, 40, '"}')),
    Kind("json_field_no_digits", _simple('{"state": "', LETTERS, 40, '"}')),
    Kind("url_path_high_entropy", _simple("GET https://api.example.com/v1/reset/", B62, 40, " HTTP/1.1")),
    Kind("url_query_code", _simple("callback?state=ok&code=", B64URL, 32)),
    Kind("aws_presigned_signature", _simple("s3.amazonaws.com/b/k?X-Amz-Signature=", HEX, 64)),
    Kind("npm_token", _simple("npm_", B62, 36)),
    Kind("huggingface_token", _simple("hf_", LETTERS, 34)),
    Kind("sendgrid_key", _sendgrid),
    Kind("vault_token", _simple("hvs.", B62 + "-_", 90)),
    Kind("datadog_api_key", _simple("DD_API_KEY=", HEX, 32)),
    Kind("password_in_message", _simple("login failed for user bob password=", B62 + "!#", 18)),
    Kind("twilio_api_key", _simple("SK", HEX, 32)),
)
