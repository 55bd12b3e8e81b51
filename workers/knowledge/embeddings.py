"""Dense embeddings from an OpenAI-compatible `/v1/embeddings` endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass
class HttpEmbedder:
    """An OpenAI-compatible `/v1/embeddings` endpoint (`base_url` with or without the `/v1`)."""

    base_url: str
    model: str
    api_key: str | None = None
    http: httpx.Client | None = None
    timeout_s: float = 10.0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        url = self.base_url.rstrip("/")
        url = (url if url.endswith("/v1") else url + "/v1") + "/embeddings"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "input": list(texts)}
        if self.http is not None:
            resp = self.http.post(url, json=body, headers=headers, timeout=self.timeout_s)
        else:
            resp = httpx.post(url, json=body, headers=headers, timeout=self.timeout_s)
        resp.raise_for_status()
        data = sorted(resp.json()["data"], key=lambda d: int(d.get("index", 0)))
        if len(data) != len(texts):
            raise ValueError(f"embeddings endpoint returned {len(data)} vectors for {len(texts)} inputs")
        return [[float(x) for x in d["embedding"]] for d in data]
