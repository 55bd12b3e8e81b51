import gzip
import socket
from pathlib import Path

import pytest

from workers.evidence import tokens
from workers.evidence.tokens import TokenCounter, TokenizerUnavailable, encoding_for, load_encoding


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test; every load reads the files again."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the tokenizer tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken copies files it reads into a cache: not here
    tokens._load.cache_clear()


def test_cl100k_loads_offline_from_the_bundled_file() -> None:
    counter = TokenCounter.for_model("gpt-4")
    assert counter.encoding_name == "cl100k_base" and counter.exact
    assert counter.count("hello world") == 2
    assert counter.count("tiktoken is great!") == 6
    assert counter.encoding.decode(counter.encoding.encode("døgn ✓")) == "døgn ✓"


def test_o200k_loads_offline_for_current_models() -> None:
    counter = TokenCounter.for_model("gpt-4o-mini")
    assert counter.encoding_name == "o200k_base" and counter.exact
    assert counter.count("hello world") == 2


@pytest.fixture
def without_bundled(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an install where the package shipping the vocabularies is missing."""
    monkeypatch.setattr(tokens, "_bundled", lambda _name: None)


def test_special_token_text_counts_as_ordinary_text() -> None:
    assert TokenCounter.for_model("cl100k_base").count("<|endoftext|>") > 1


@pytest.mark.usefixtures("without_bundled")
def test_missing_encoding_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TokenizerUnavailable) as err:
        encoding_for("gpt-4o", encodings_dir=tmp_path)
    message = str(err.value)
    assert "o200k_base" in message and "o200k_base.tiktoken" in message and str(tmp_path) in message


def test_fallback_only_when_asked_and_marked_approximate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = tokens._bundled("cl100k_base")
    assert bundled is not None
    (tmp_path / "cl100k_base.tiktoken").write_bytes(gzip.decompress(bundled.read_bytes()))
    monkeypatch.setattr(tokens, "_bundled", lambda _name: None)
    counter = TokenCounter.for_model("gpt-4o", encodings_dir=tmp_path, fallback="cl100k_base")
    assert counter.encoding_name == "cl100k_base" and not counter.exact
    assert encoding_for("gpt-4o", encodings_dir=tmp_path, fallback="cl100k_base").name == "cl100k_base"


def test_unknown_model_needs_a_fallback() -> None:
    with pytest.raises(TokenizerUnavailable, match="some-local-model"):
        TokenCounter.for_model("some-local-model")
    assert not TokenCounter.for_model("some-local-model", fallback="cl100k_base").exact


def test_encodings_dir_file_is_used_and_hash_checked(tmp_path: Path) -> None:
    bundled = tokens._bundled("cl100k_base")
    assert bundled is not None
    (tmp_path / "cl100k_base.tiktoken").write_bytes(gzip.decompress(bundled.read_bytes()))
    assert load_encoding("cl100k_base", tmp_path).name == "cl100k_base"
    (tmp_path / "o200k_base.tiktoken").write_bytes(b"aGVsbG8= 0\n")
    with pytest.raises(TokenizerUnavailable, match="not a valid o200k_base file"):
        load_encoding("o200k_base", tmp_path)


def test_encoding_without_an_offline_definition() -> None:
    with pytest.raises(TokenizerUnavailable, match="no offline definition"):
        load_encoding("r50k_base")


def test_configured_model_unknown_to_tiktoken_is_counted_approximately() -> None:
    counter = TokenCounter.for_configured_model("llama-3.1-70b-instruct")
    assert counter.encoding_name == "cl100k_base" and not counter.exact


@pytest.mark.usefixtures("without_bundled")
def test_configured_known_model_with_missing_vocabulary_is_an_error() -> None:
    with pytest.raises(TokenizerUnavailable, match="o200k_base"):
        TokenCounter.for_configured_model("gpt-4o-mini")
