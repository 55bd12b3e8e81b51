"""`rediss://` with a custom CA in the URL (as the README documents) gives a verifying TLS client."""

from __future__ import annotations

import redis

from workers.redisconn import _client


def test_rediss_url_with_a_custom_ca_verifies_against_it() -> None:
    url = "rediss://:pw@redis.ops:6380/0?ssl_ca_certs=/etc/redis-tls/ca.pem&ssl_cert_reqs=required"
    client = _client(url)
    try:
        pool = client.connection_pool
        assert pool.connection_class is redis.SSLConnection
        assert pool.connection_kwargs["ssl_ca_certs"] == "/etc/redis-tls/ca.pem"
        assert pool.connection_kwargs["ssl_cert_reqs"] == "required"
        assert pool.connection_kwargs["password"] == "pw"
    finally:
        client.close()
