"""The postmortem summary message: what the draft says in a few lines, with the Approve button."""

from __future__ import annotations

from collections import Counter

from workers.postmortem.model import PostmortemDraft
from workers.slack import ids
from workers.slack.blocks import Block, button, clip, context, section
from workers.slack.neutral import neutralize


def summary(pm: PostmortemDraft, file_note: str = "") -> tuple[str, list[Block]]:
    title = f"Postmortem draft: {neutralize(pm.title)}"
    states = Counter(n.state for n in pm.decision_tree)
    minutes = max(0, round((pm.resolved_at - pm.started_at).total_seconds() / 60))
    incident = neutralize(pm.incident_id)
    facts = [
        f"*Incident* `{incident}` · resolved {pm.resolved_at:%Y-%m-%d %H:%M} UTC after {minutes} min",
        f"*Hypotheses* {len(pm.decision_tree)}: "
        + ", ".join(f"{states[s]} {s}" for s in ("confirmed", "rejected", "dropped", "open") if states[s]),
        f"*Actions* {len(pm.actions)} · *Timeline* {sum(1 for e in pm.timeline if e.shown)} key events "
        f"({sum(1 for e in pm.timeline if e.key)} pinned), {pm.messages_read} messages read",
    ]
    if pm.triplets:
        t = pm.triplets[0]
        facts.append(f"*Root cause* {neutralize(t.root_cause)} · *Fix* {neutralize(t.fix)}")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title, 150)}},
        section("\n".join(facts)),
        section(neutralize(pm.prose.summary)),
    ]
    if pm.mode == "evidence-only":
        blocks.append(
            section(
                f":memo: *Evidence-only draft* ({neutralize(pm.mode_reason)}): the timeline, decision tree, "
                "actions and triplets come from the data; the prose sections are left for you to write."
            )
        )
    if pm.blame:
        blocks.append(
            section(
                f":warning: *Blameless check*: {len(pm.blame)} sentence(s) blame a person; see the draft."
            )
        )
    for gap in pm.gaps:
        blocks.append(section(f":warning: *Not read*: {neutralize(gap)}"))
    if pm.review == "reviewed":
        blocks.append(section(f":white_check_mark: Reviewed by {neutralize(pm.reviewed_by)}."))
    else:
        approve = button("Approve postmortem", ids.POSTMORTEM_APPROVE, pm.incident_id)
        blocks.append({"type": "actions", "block_id": "postmortem-actions", "elements": [approve]})
    stored = f"stored in the knowledge base as `{incident}`"
    blocks.append(context(f"Version {pm.version} · {pm.review} · {stored}. {file_note}".strip()))
    return title, blocks
