"""Answers only the clicker sees, under the message they clicked, leaving that message as it is."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.context.respond import Respond

log = structlog.get_logger(__name__)


def ephemeral(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def ephemeral_if_possible(respond: Respond | None, body: Any, text: str, run_id: str) -> None:
    """`text` to the user when the payload has a response URL; one that fails is logged, not raised
    (this runs where nothing else would catch it)."""
    if respond is None or not isinstance(body, dict) or not body.get("response_url"):
        return
    try:
        ephemeral(respond, text)
    except Exception as exc:
        log.warning("could not answer the user", run_id=run_id, error=type(exc).__name__)
