"""The message a triage edits, when the bot could not post it (Slack was rate-limiting or failing).

The worker posts it once per run, whatever happens to the job: the message's ts is kept in Redis
under the run id, and before posting, a re-run whose previous attempt died between posting and
keeping the ts finds that message in the channel by its run id. A re-run on an incident that
already has a board edits the board, as the bot would have.
"""

from __future__ import annotations

import json
from typing import Any

from workers import runtime
from workers.models import TriageRequest
from workers.redisconn import as_text
from workers.slack import blocks

KEEP_S = 7 * 86400
HISTORY_LOOKBACK = 100


def placeholder_key(run_id: str) -> str:
    return f"ic:run:{run_id}:placeholder"


def stored_placeholder(rt: runtime.Runtime, run_id: str) -> str:
    """The ts the worker posted for this run; "" when it posted none."""
    return as_text(rt.redis.client.get(placeholder_key(run_id)))


def ensure_placeholder(rt: runtime.Runtime, request: TriageRequest) -> TriageRequest:
    """The request with a placeholder to edit: the bot's, else one posted (or found) exactly once."""
    if request.placeholder_ts or not request.channel_id:
        return request
    ts = stored_placeholder(rt, request.run_id) or _find_posted(rt, request)
    if not ts:
        earlier = rt.incidents.triages(request.incident_id)
        ts = earlier[0][1] if earlier else _post(rt, request)
    rt.redis.client.set(placeholder_key(request.run_id), ts, ex=KEEP_S)
    if request.run_id not in {run for run, _ts in rt.incidents.triages(request.incident_id)}:
        rt.incidents.record_triage(request.incident_id, request.run_id, ts)
    return request.model_copy(update={"placeholder_ts": ts})


def _find_posted(rt: runtime.Runtime, request: TriageRequest) -> str:
    history = rt.slack.conversations_history(channel=request.channel_id, limit=HISTORY_LOOKBACK)
    marker = f"run id `{request.run_id}`"
    messages: list[dict[str, Any]] = history.get("messages", [])
    for message in messages:
        if message.get("bot_id") and marker in json.dumps(message.get("blocks", [])):
            return str(message["ts"])
    return ""


def _post(rt: runtime.Runtime, request: TriageRequest) -> str:
    zone = rt.settings.incident.timezone
    text, body = blocks.placeholder(request.requester_id, request.window, zone, request.run_id)
    return str(rt.slack.chat_postMessage(channel=request.channel_id, text=text, blocks=body)["ts"])
