"""Redaction at rest: what a guarded client writes to a real Redis holds no secret, whatever the
command, the pipeline or the encoding (JSON, RQ's zlib job data, RQ's base64 results)."""

from __future__ import annotations

import base64
import json
import zlib

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from workers.atrest import AtRest, at_rest_redactor, guard

TOKEN = "ghp_" + "Zq8rT2mVx9KpL4sN7wYb3cHd6fJg1aE5uQ0i"
RANDOM_PART = TOKEN[4:]


def _guarded(client: redis.Redis, key: str | None = "k" * 32) -> redis.Redis:
    """A client of its own (guarding a pool affects the connections it opens next) on `client`'s server."""
    pool = client.connection_pool
    own = redis.ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs)
    return guard(redis.Redis(connection_pool=own), AtRest(at_rest_redactor(key)))


def test_plain_writes_and_pipelines_are_redacted(client: redis.Redis) -> None:
    guarded = _guarded(client)
    guarded.set("a", f"token {TOKEN} in text")
    guarded.hset("h", mapping={"f": TOKEN, "n": 3})
    guarded.xadd("s", {"text": f"x {TOKEN}"}, maxlen=10, approximate=True)
    with guarded.pipeline(transaction=True) as tx:
        tx.rpush("l", TOKEN)
        tx.sadd("set", TOKEN)
        tx.execute()
    stored = [client.get("a"), *client.hgetall("h").values(), *client.lrange("l", 0, -1)]
    stored += list(client.smembers("set")) + [v for _, f in client.xrange("s") for v in f.values()]
    assert stored and not any(RANDOM_PART.encode() in v for v in stored)
    assert client.hget("h", "n") == b"3"  # what holds no secret is stored as it came
    tags = {v for v in stored if b"REDACTED" in v}
    assert b"[REDACTED:github_token#" in client.get("a")  # type: ignore[operator]
    assert client.hget("h", "f") == client.lrange("l", 0, 0)[0]  # one value, one tag, everywhere
    assert len(tags) >= 3


def test_tags_are_keyed_and_plain_without_a_key(client: redis.Redis) -> None:
    _guarded(client, "one-key-one-key-one").set("a", TOKEN)
    _guarded(client, "another-key-entirely").set("b", TOKEN)
    _guarded(client, None).set("c", TOKEN)
    assert client.get("a") != client.get("b")
    assert client.get("c") == b"[REDACTED:github_token]"


def test_json_values_stay_json_and_keys_are_not_touched(client: redis.Redis) -> None:
    guarded = _guarded(client)
    doc = {"text": f"see {TOKEN}", TOKEN: 1, "nested": [{"quote": TOKEN}], "n": 2.5}
    guarded.set(f"ic:kb:record:{TOKEN[:8]}", json.dumps(doc))
    raw = client.get(f"ic:kb:record:{TOKEN[:8]}")
    assert raw is not None and RANDOM_PART.encode() not in raw
    back = json.loads(raw)
    assert back["n"] == 2.5 and back["nested"][0]["quote"].startswith("[REDACTED:github_token#")
    unchanged = json.dumps({"a": "nothing secret here at all"})
    guarded.set("plain", unchanged)
    assert client.get("plain") == unchanged.encode()  # byte for byte


def test_rq_job_data_and_results_are_redacted_inside(client: redis.Redis) -> None:
    guarded = _guarded(client)
    job = Queue("q", connection=guarded, serializer=JSONSerializer).enqueue_call(
        "builtins.print", args=[{"text": f"/triage {TOKEN}"}], job_id="j1"
    )
    data = client.hget(job.key, "data")
    assert data is not None
    func, _instance, args, _kwargs = json.loads(zlib.decompress(data))
    assert func == "builtins.print" and args[0]["text"].startswith("/triage [REDACTED:github_token#")
    result = base64.b64encode(json.dumps({"answer": TOKEN}).encode()).decode()
    failure = base64.b64encode(zlib.compress(f"Traceback: {TOKEN}".encode())).decode()
    guarded.xadd("rq:results:j1", {"return_value": result, "exc_string": failure})
    [(_id, fields)] = client.xrange("rq:results:j1")
    assert json.loads(base64.b64decode(fields[b"return_value"]))["answer"].startswith("[REDACTED:")
    assert b"[REDACTED:" in zlib.decompress(base64.b64decode(fields[b"exc_string"]))


def test_binary_values_and_reads_pass_untouched(client: redis.Redis) -> None:
    guarded = _guarded(client)
    blob = bytes(range(256)) * 4
    guarded.set("bin", blob)
    assert client.get("bin") == blob
    client.set("raw", TOKEN)  # written around the guard: the read still returns it
    assert guarded.get("raw") == TOKEN.encode()
