"""Answers only the clicker sees, under the message they clicked, leaving that message as it is."""

from __future__ import annotations

from slack_bolt.context.respond import Respond


def ephemeral(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)
