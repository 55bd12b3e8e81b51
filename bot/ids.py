"""Slack identifiers the app registers; the manifest and the tests read them from here."""

TRIAGE_COMMAND = "/triage"
MESSAGE_EVENT = "message"
