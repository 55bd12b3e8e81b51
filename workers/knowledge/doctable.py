"""What the search index keeps per record, as columns: its id, a content digest, and indexes into one
table of distinct strings (services, log signatures), which records share. About 100 bytes a record."""

from __future__ import annotations

import json

import numpy as np


class DocTable:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.digests: list[str] = []
        self._services: list[int] = []
        self._signatures: list[int] = []
        self._strings: list[str] = []
        self._interned: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _intern(self, text: str) -> int:
        n = self._interned.get(text)
        if n is None:
            n = self._interned[text] = len(self._strings)
            self._strings.append(text)
        return n

    def append(self, record_id: str, digest: str, services: str, signature: str) -> int:
        self.ids.append(record_id)
        self.digests.append(digest)
        self._services.append(self._intern(services))
        self._signatures.append(self._intern(signature))
        return len(self.ids) - 1

    def services(self, n: int) -> str:
        return self._strings[self._services[n]]

    def signature(self, n: int) -> str:
        return self._strings[self._signatures[n]]

    def keep(self, rows: np.ndarray) -> None:
        """Only these rows, renumbered in order (strings no row uses any more stay until a reload)."""
        picked = [int(i) for i in rows]
        self.ids = [self.ids[i] for i in picked]
        self.digests = [self.digests[i] for i in picked]
        self._services = [self._services[i] for i in picked]
        self._signatures = [self._signatures[i] for i in picked]

    def dump(self) -> dict[str, bytes]:
        used = sorted(set(self._services) | set(self._signatures))
        renumber = {old: new for new, old in enumerate(used)}
        return {
            "ids": "\n".join(self.ids).encode(),
            "digests": "".join(self.digests).encode(),
            "strings": json.dumps([self._strings[i] for i in used]).encode(),
            "services": np.asarray([renumber[i] for i in self._services], dtype=np.int32).tobytes(),
            "signatures": np.asarray([renumber[i] for i in self._signatures], dtype=np.int32).tobytes(),
        }

    @classmethod
    def load(cls, data: dict[str, bytes], digest_chars: int) -> DocTable:
        out = cls()
        ids = data["ids"].decode()
        out.ids = ids.split("\n") if ids else []
        digests = data["digests"].decode()
        out.digests = [digests[i : i + digest_chars] for i in range(0, len(digests), digest_chars)]
        out._strings = json.loads(data["strings"])
        out._interned = {s: n for n, s in enumerate(out._strings)}
        out._services = np.frombuffer(data["services"], dtype=np.int32).tolist()
        out._signatures = np.frombuffer(data["signatures"], dtype=np.int32).tolist()
        return out
