"""Slack identifiers the app registers and its messages carry; the manifest and tests read them here."""

TRIAGE_COMMAND = "/triage"
MESSAGE_EVENT = "message"

# Feedback on a similar past incident shown in an answer; the value is "<record id>|<incident type>".
KB_SAME_CAUSE = "kb_same_cause"
KB_NOT_RELATED = "kb_not_related"

# Verdicts on a hypothesis of the board; the value is "<incident id>|<hypothesis id>".
HYP_SUPPORT = "hyp_support"
HYP_REJECT = "hyp_reject"
HYP_NEED_DATA = "hyp_need_data"
HYPOTHESIS_VERDICTS = {HYP_SUPPORT: "support", HYP_REJECT: "reject", HYP_NEED_DATA: "need_data"}

# Resolution and the postmortem; the value is the incident id.
INCIDENT_RESOLVE = "incident_resolve"
POSTMORTEM_APPROVE = "postmortem_approve"
CHANNEL_ARCHIVE_EVENT = "channel_archive"
GROUP_ARCHIVE_EVENT = "group_archive"  # a private channel archived

# Approve / Deny on an act-level action, Undo on its result; the value is the opaque proposal id.
PROPOSAL_APPROVE = "proposal_approve"
PROPOSAL_DENY = "proposal_deny"
PROPOSAL_UNDO = "proposal_undo"
