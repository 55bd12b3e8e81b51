"""The policy ladder: which actions the bot may observe, suggest or (after approval) act on, and why."""
