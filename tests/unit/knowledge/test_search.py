"""Knowledge search: ranking, log signatures, embeddings over real HTTP, novelty, feedback, refresh."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import redis

from workers.knowledge.embeddings import HttpEmbedder
from workers.knowledge.feedback import FeedbackStore
from workers.knowledge.model import IncidentRecord, Triplet
from workers.knowledge.search import KnowledgeIndex, novelty
from workers.knowledge.textmatch import (
    TEMPLATE_MIN_SIM,
    template_similarity,
    template_tokens,
    tokenize,
)

RECORDS = [
    IncidentRecord(
        id="INC-1",
        title="Checkout 504s: payments-svc database connection pool exhausted",
        services=["payments-svc", "checkout"],
        summary="After the 14:00 deploy checkout returned 504 for 20 minutes.",
        symptoms=["gateway timeouts on checkout", "pool wait time above 5s"],
        root_causes=["The deploy halved the max pool size of the payments database client."],
        resolution="Rolled back the deploy and raised the pool size to 50.",
        log_signature=["timeout acquiring connection from pool after <NUM>ms pool=<*>"],
    ),
    IncidentRecord(
        id="INC-2",
        title="Search pods OOMKilled after index growth",
        services=["search-api"],
        summary="search-api pods restarted in a loop, killed for exceeding the memory limit.",
        root_causes=["The product index doubled and no longer fit in the 2Gi memory limit."],
        resolution="Raised the memory limit to 4Gi and sharded the index.",
        log_signature=["container <*> terminated reason=OOMKilled exit code <NUM>"],
    ),
    IncidentRecord(
        id="INC-3",
        title="Cluster DNS failures from conntrack table exhaustion",
        services=["coredns"],
        summary="Intermittent name resolution errors across namespaces; lookups timed out.",
        root_causes=["The node conntrack table was full, UDP DNS packets were dropped."],
        resolution="Raised nf_conntrack_max and moved CoreDNS to TCP for upstream.",
        log_signature=["dial udp <IP>:53: i/o timeout"],
    ),
    IncidentRecord(
        id="INC-4",
        title="Expired TLS certificate on the public ingress",
        services=["ingress"],
        summary="Browsers rejected the site: the certificate had expired overnight.",
        root_causes=["cert-manager could not renew: the ACME challenge path was blocked by a new WAF rule."],
        resolution="Allowed the ACME path in the WAF and renewed the certificate.",
    ),
    IncidentRecord(
        id="INC-5",
        title="Orders queue backlog: consumer lag on Kafka",
        services=["orders-worker"],
        summary="Orders were processed hours late; consumer lag grew to 2 million messages.",
        root_causes=["A poison message made the consumer crash and restart from the same offset."],
        triplets=[
            Triplet(
                symptom="lag grows",
                root_cause="poison message",
                fix="Skip the message to a dead-letter topic.",
                verified=True,
            )
        ],
        log_signature=["failed to deserialize record at offset <NUM> partition <NUM>"],
    ),
    IncidentRecord(
        id="INC-6",
        title="Checkout latency from slow payments database queries",
        services=["payments-svc"],
        summary="Checkout was slow, p99 above 3 seconds, no errors.",
        root_causes=["A missing index on the refunds table after a migration made queries scan the table."],
        resolution="Added the index.",
        log_signature=["slow query took <NUM>ms table=<*>"],
    ),
]


def index_of(records: list[IncidentRecord] = RECORDS, **kw: Any) -> KnowledgeIndex:
    idx = KnowledgeIndex(**kw)
    idx.build(records)
    return idx


def test_tokenizer_keeps_short_technical_tokens_and_drops_stop_words() -> None:
    assert tokenize("The OOM killer hit DNS, then 502s/502 at the LB") == [
        "oom", "killer", "hit", "dns", "502s", "502", "lb",
    ]  # fmt: skip


def test_long_identifiers_are_also_split_at_case_changes_short_ones_stay_whole() -> None:
    assert tokenize("java.lang.OutOfMemoryError OOMKilled CoreDNS") == [
        "java", "lang", "outofmemoryerror", "out", "memory", "error", "oomkilled", "oom", "killed",
        "coredns",
    ]  # fmt: skip


def test_templates_of_different_lengths_match_on_their_shared_words() -> None:
    gateway = template_tokens("api-gateway write <PATH>: no space left on device")
    pg = template_tokens('ERROR:  could not extend file "base/<NUM>": No space left on device')
    assert template_similarity(gateway, pg) >= TEMPLATE_MIN_SIM
    wal = template_tokens("metrics-store failed to write WAL segment <NUM>: no space left on device")
    pool = template_tokens("HikariPool-<NUM> - Connection is not available, request timed out")
    assert template_similarity(wal, pool) == 0.0  # "to" alone, or "write" alone, is not a failure
    same_len = template_tokens("kubelet container <ID> terminated reason=OOMKilled")
    assert (
        template_similarity(same_len, template_tokens("kubelet container api terminated reason=OOMKilled"))
        == 1.0
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("checkout returning 504 gateway timeout, payments connection pool exhausted", "INC-1"),
        ("pods keep getting OOMKilled, memory limit exceeded in search", "INC-2"),
        ("name resolution timing out inside the cluster, dns lookups fail", "INC-3"),
        ("site certificate expired, browsers show TLS error", "INC-4"),
        ("kafka consumer lag growing, orders delayed", "INC-5"),
    ],
)
def test_paraphrased_queries_rank_the_right_incident_first(query: str, expected: str) -> None:
    matches = index_of().search(query)
    assert matches[0].record_id == expected
    assert all(0.0 <= m.score <= 1.0 for m in matches)
    assert matches[0].snippet and len(matches[0].snippet) <= 300
    assert matches[0].root_cause and matches[0].fix


def test_match_carries_root_cause_and_fix_from_a_verified_triplet() -> None:
    top = index_of().search("kafka consumer lag orders")[0]
    assert top.record_id == "INC-5"
    assert top.fix == "Skip the message to a dead-letter topic."
    assert set(top.parts) == {"bm25", "dense", "signature", "service", "feedback"}


def test_snippet_is_a_window_around_the_query_terms() -> None:
    long = RECORDS[0].model_copy(
        update={"body": "filler words here. " * 5 + "x " * 200 + "zebra stampede " + "y " * 200}
    )
    top = index_of([long]).search("zebra stampede")[0]
    assert "zebra stampede" in top.snippet and len(top.snippet) <= 300


def test_signature_overlap_lifts_the_incident_whose_templates_match() -> None:
    idx = index_of()
    text = "payments-svc checkout"
    assert [m.record_id for m in idx.search(text)][:2] == ["INC-1", "INC-6"]
    lifted = idx.search(text, signature=["slow query took <NUM>ms table=refunds", "GET /health 200"])
    assert lifted[0].record_id == "INC-6"
    assert lifted[0].parts["signature"] == 1.0  # wildcards match the concrete table name
    kept = idx.search(text, signature=["timeout acquiring connection from pool after <NUM>ms pool=<*>"])
    assert kept[0].record_id == "INC-1" and kept[0].parts["signature"] == 1.0


def test_service_match_is_a_small_bonus() -> None:
    idx = index_of()
    plain = {m.record_id: m for m in idx.search("database")}
    with_svc = {m.record_id: m for m in idx.search("database", services=["payments-svc"])}
    assert with_svc["INC-1"].parts["service"] == 1.0
    assert 0 < with_svc["INC-1"].score - plain["INC-1"].score <= 0.1


def test_novelty_for_unrelated_and_near_duplicate_queries() -> None:
    idx = index_of()
    unrelated = novelty(idx.search("printer queue on floor 3 jammed with holiday cards"))
    assert unrelated.novel and unrelated.score > 0.5 and "no past incident" in unrelated.reason
    dup = novelty(idx.search("Checkout 504s, payments-svc database connection pool exhausted after deploy"))
    assert not dup.novel and "INC-1" in dup.reason
    assert novelty([]).novel


# --- embeddings over a real local HTTP server -------------------------------------------------------


def _vector(text: str, dim: int = 64) -> list[float]:
    vec = [0.0] * dim
    for tok in tokenize(text):
        vec[int(hashlib.sha256(tok.encode()).hexdigest(), 16) % dim] += 1.0
    return vec


class _Server:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.inputs: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                server.inputs += body["input"]
                data = {"data": [{"index": i, "embedding": _vector(t)} for i, t in enumerate(body["input"])]}
                payload = json.dumps(data if server.status == 200 else {"error": "down"}).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def test_dense_part_comes_from_the_embeddings_endpoint_and_is_cached(server: _Server) -> None:
    with httpx.Client() as http:
        idx = index_of(embedder=HttpEmbedder(server.url, "emb-1", "sk-test", http=http, timeout_s=60))
        first = idx.search("memory limit exceeded, pods restarting")
        assert first[0].record_id == "INC-2"
        assert first[0].parts["dense"] > 0 and first[0].dense_skipped == ""
        assert len(server.inputs) == len(RECORDS) + 1
        idx.search("dns lookups time out")
        assert len(server.inputs) == len(RECORDS) + 2  # record vectors are not asked for again
    assert server.bodies[0]["path"] == "/v1/embeddings"
    assert server.bodies[0]["model"] == "emb-1" and server.bodies[0]["auth"] == "Bearer sk-test"


def test_a_failing_embeddings_endpoint_skips_the_dense_part_and_says_so(server: _Server) -> None:
    server.status = 500
    idx = index_of(embedder=HttpEmbedder(server.url, "emb-1", None, timeout_s=60))
    matches = idx.search("pods keep getting OOMKilled, memory limit exceeded")
    assert matches[0].record_id == "INC-2"
    assert matches[0].parts["dense"] == 0.0
    assert "embeddings unavailable" in matches[0].dense_skipped and "500" in matches[0].dense_skipped


def test_without_an_embedder_the_dense_part_is_noted_as_skipped() -> None:
    assert index_of().search("dns")[0].dense_skipped == "no embedder configured"


# --- real Redis: feedback and refresh ---------------------------------------------------------------


def test_feedback_labels_move_a_record_up_and_down(client: redis.Redis) -> None:
    idx, fb = index_of(), FeedbackStore(client)
    query = "payments-svc checkout"
    order = [m.record_id for m in idx.search(query, feedback=fb, incident_type="payments-svc")]
    assert order[:2] == ["INC-1", "INC-6"]
    fb.record("payments-svc", "INC-1", "not related", "U1")
    fb.record("payments-svc", "INC-6", "same cause", "U1")
    fb.record("payments-svc", "INC-6", "same cause", "U1")  # one user counts once
    moved = idx.search(query, feedback=fb, incident_type="payments-svc")
    assert [m.record_id for m in moved][:2] == ["INC-6", "INC-1"]
    assert moved[0].parts["feedback"] == pytest.approx(0.15)
    assert fb.adjustment("payments-svc", "INC-1") == pytest.approx(-0.3)
    other = idx.search(query, feedback=fb, incident_type="search-api")  # labels are per incident type
    assert [m.record_id for m in other][:2] == ["INC-1", "INC-6"]
    for user in ("U2", "U3", "U4", "U5"):
        fb.record("payments-svc", "INC-1", "not related", user)
    assert fb.adjustment("payments-svc", "INC-1") == pytest.approx(-0.6)  # clipped
    assert all(k.startswith(b"ic:kb:feedback:") for k in client.keys("*"))
    with pytest.raises(ValueError, match="label"):
        fb.record("payments-svc", "INC-1", "meh")


class _RedisStore:
    """The `KnowledgeStore` API, kept minimal: records in a hash, changes in a stream."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def upsert(self, records: list[IncidentRecord]) -> None:
        for r in records:
            self.client.hset("t:records", r.id, r.model_dump_json())
            self.client.xadd("t:changes", {"op": "upsert", "id": r.id})
            self.client.incr("t:version")

    def delete(self, rid: str) -> None:
        self.client.hdel("t:records", rid)
        self.client.xadd("t:changes", {"op": "delete", "id": rid})
        self.client.incr("t:version")

    def all(self) -> list[IncidentRecord]:
        return [IncidentRecord.model_validate_json(v) for v in self.client.hvals("t:records")]

    def get(self, rid: str) -> IncidentRecord | None:
        raw = self.client.hget("t:records", rid)
        return IncidentRecord.model_validate_json(raw) if raw else None

    def version(self) -> int:
        return int(self.client.get("t:version") or 0)

    def changes_since(self, stream_id: str) -> tuple[list[tuple[str, str]], str]:
        entries = self.client.xrange("t:changes", f"({stream_id}" if stream_id != "0" else "-")
        pairs = [(f[b"op"].decode(), f[b"id"].decode()) for _, f in entries]
        return pairs, entries[-1][0].decode() if entries else stream_id


def test_refresh_applies_only_the_changes(client: redis.Redis) -> None:
    store, idx = _RedisStore(client), KnowledgeIndex()
    store.upsert(RECORDS[:4])
    assert idx.refresh(store) and idx.rebuilds == 1 and len(idx) == 4
    assert not idx.refresh(store) and idx.rebuilds == 1  # nothing new: no stream read, no rebuild
    for _ in range(3):
        idx.search("dns")
    assert idx.rebuilds == 1  # never per query
    store.upsert([RECORDS[4]])
    store.delete("INC-4")
    assert idx.refresh(store) and idx.rebuilds == 1  # record by record, never a rebuild
    assert idx.ids() == ["INC-1", "INC-2", "INC-3", "INC-5"]
    assert idx.search("kafka consumer lag")[0].record_id == "INC-5"
    assert all(m.record_id != "INC-4" for m in idx.search("expired certificate"))


def test_a_match_links_only_to_a_web_address() -> None:
    index = KnowledgeIndex()
    index.build(
        [
            IncidentRecord(
                id="INC-9",
                title="kafka consumer lag from a poison message",
                links=[
                    "javascript:alert(1)",
                    "https://wiki.example.com/INC-9 x",
                    "https://wiki.example.com/INC-9",
                ],
            )
        ]
    )
    assert index.search("kafka poison message")[0].link == "https://wiki.example.com/INC-9"
