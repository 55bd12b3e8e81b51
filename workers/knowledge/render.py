"""A stored record as Markdown (`kb show --format md`), in the SRE book's section names."""

from __future__ import annotations

from workers.knowledge.model import IncidentRecord


def record_markdown(r: IncidentRecord) -> str:
    out = [f"# {r.title}", "", f"- id: `{r.id}` ({r.provenance}{', ' + r.review if r.review else ''})"]
    if r.started_at:
        out.append(f"- started: {r.started_at:%Y-%m-%d %H:%M} UTC")
    if r.resolved_at:
        out.append(f"- resolved: {r.resolved_at:%Y-%m-%d %H:%M} UTC")
    for label, value in (
        ("services", ", ".join(r.services)),
        ("severity", r.severity),
        ("tags", ", ".join(r.tags)),
    ):
        if value:
            out.append(f"- {label}: {value}")
    if r.source_file:
        out.append(f"- source: {r.source_file}")
    out.append("")
    for title, items in (
        ("Summary", [r.summary] if r.summary else []),
        ("Symptoms", r.symptoms),
        ("Root causes", r.root_causes),
        ("Trigger", [r.trigger] if r.trigger else []),
        ("Resolution", [r.resolution] if r.resolution else []),
        ("Action items", r.action_items),
        ("Log signature", [f"`{t}`" for t in r.log_signature]),
        ("Links", r.links),
    ):
        if items:
            out += [f"## {title}", "", *(f"- {i}" for i in items), ""]
    if r.triplets:
        out += ["## Triplets", ""]
        out += [
            f"- {t.symptom} → {t.root_cause} → {t.fix}" + (" (verified)" if t.verified else "")
            for t in r.triplets
        ]
        out.append("")
    return "\n".join(out)
