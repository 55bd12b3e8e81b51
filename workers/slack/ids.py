"""Slack identifiers the app registers and its messages carry; the manifest and tests read them here."""

TRIAGE_COMMAND = "/triage"
MESSAGE_EVENT = "message"

# Feedback on a similar past incident shown in an answer; the value is "<record id>|<incident type>".
KB_SAME_CAUSE = "kb_same_cause"
KB_NOT_RELATED = "kb_not_related"
