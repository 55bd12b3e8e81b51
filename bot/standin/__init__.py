"""A local stand-in for Slack: a Web API server, a signed-request driver and a terminal renderer."""

from bot.standin.blockkit import validate_blocks
from bot.standin.driver import SlackDriver
from bot.standin.render import render_conversation, render_message
from bot.standin.server import SlackStandIn

__all__ = ["SlackDriver", "SlackStandIn", "render_conversation", "render_message", "validate_blocks"]
