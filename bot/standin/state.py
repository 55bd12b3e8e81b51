"""The stand-in's workspace: users, channels, messages, threads, files and response-URL posts, in memory.

Every public method takes the workspace lock, so the HTTP server threads, the tests and the renderer
can all use one ``Workspace`` at once. Methods hand out deep copies, never the stored dicts.
"""

from __future__ import annotations

import copy
import inspect
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.manifest import scopes

Message = dict[str, Any]


@dataclass
class User:
    """A member of the workspace."""

    id: str
    name: str
    real_name: str
    tz: str = "Etc/UTC"
    is_bot: bool = False


@dataclass
class Channel:
    """A channel; ``is_member`` says whether the bot has joined it, ``is_private`` whether it is a
    private channel (reading it takes the ``groups:*`` scopes)."""

    id: str
    name: str
    is_member: bool = True
    is_archived: bool = False
    created: int = 0
    is_private: bool = False
    topic: str = ""
    members: list[str] = field(default_factory=list)


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for a Slack timestamp such as ``"1700000000.000100"``; raises ``ValueError`` if malformed."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6])


def response_key(channel_id: str, user_id: str, message_ts: str = "") -> str:
    """A response-URL key that tells the stand-in where a post belongs (see ``Workspace.record_response``)."""
    return f"{channel_id}:{user_id}:{message_ts}:{uuid.uuid4().hex[:12]}"


class Workspace:
    """One Slack workspace with a single bot user, as seen by the stand-in's Web API."""

    team_id = "T0INCIDENT"
    team_domain = "incident-copilot"
    team_name = "Incident Copilot"
    bot_user_id = "U0BOT"
    bot_id = "B0BOT"
    app_id = "A0COPILOT"
    bot_name = "incident-copilot"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._messages: dict[str, list[Message]] = {}  # per channel, replies included, oldest first
        self._ephemeral: list[Message] = []
        self._files: dict[str, dict[str, Any]] = {}
        self._uploads: dict[str, bytes] = {}
        self._responses: list[Message] = []
        self._last_micros = 0
        self._usergroups: dict[str, dict[str, Any]] = {}
        self.scopes: list[str] = scopes()  # what the bot token was granted (X-OAuth-Scopes)
        self.add_user(self.bot_user_id, self.bot_name, self.bot_name, is_bot=True)

    # -- seeding -----------------------------------------------------------------------------------

    def add_user(
        self, id: str, name: str, real_name: str, tz: str = "Etc/UTC", *, is_bot: bool = False
    ) -> None:
        """Add (or replace) a user."""
        with self.lock:
            self._users[id] = User(id, name, real_name, tz, is_bot)

    def add_channel(
        self,
        id: str,
        name: str,
        is_member: bool = True,
        *,
        is_archived: bool = False,
        is_private: bool = False,
    ) -> None:
        """Add (or replace) a public channel, or a private one."""
        with self.lock:
            self._channels[id] = Channel(id, name, is_member, is_archived, int(time.time()), is_private)
            self._messages.setdefault(id, [])

    def add_message(
        self, channel: str, user: str, text: str, ts: str | None = None, thread_ts: str | None = None
    ) -> str:
        """Add a message written by a person, e.g. from a replayed conversation; returns its ``ts``."""
        message: Message = {"type": "message", "user": user, "text": text, "team": self.team_id}
        return self.insert(channel, message, ts=ts, thread_ts=thread_ts)

    def add_usergroup(self, id: str, handle: str, users: list[str]) -> None:
        """Add (or replace) a user group, `@handle`, with its members."""
        with self.lock:
            self._usergroups[id] = {"id": id, "handle": handle, "users": list(users)}

    def usergroups(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self._usergroups.values()))

    def add_reaction(self, channel: str, ts: str, name: str, user: str) -> None:
        """React to a message as a person would; history then carries it as Slack's `reactions`."""
        with self.lock:
            message = self._find(channel, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel}")
            reactions = message.setdefault("reactions", [])
            entry = next((r for r in reactions if r["name"] == name), None)
            if entry is None:
                entry = {"name": name, "users": [], "count": 0}
                reactions.append(entry)
            if user not in entry["users"]:
                entry["users"].append(user)
                entry["count"] = len(entry["users"])

    def archive_channel(self, channel: str) -> None:
        """Archive a channel: it can still be read, but nothing can be posted to it."""
        with self.lock:
            self._channels[channel].is_archived = True

    def set_topic(self, channel: str, topic: str) -> None:
        with self.lock:
            self._channels[channel].topic = topic

    def add_members(self, channel: str, users: list[str]) -> None:
        with self.lock:
            found = self._channels[channel]
            found.members.extend(u for u in users if u not in found.members)

    def channels(self) -> list[Channel]:
        with self.lock:
            return [copy.deepcopy(c) for c in self._channels.values()]

    # -- reading -----------------------------------------------------------------------------------

    def user(self, user_id: str) -> User | None:
        with self.lock:
            return copy.copy(self._users.get(user_id))

    def users(self) -> list[User]:
        with self.lock:
            return [copy.copy(user) for user in self._users.values()]

    def channel(self, channel: str) -> Channel | None:
        """Find a channel by id, name or ``#name``."""
        with self.lock:
            found = self._channels.get(channel) or next(
                (c for c in self._channels.values() if c.name == channel.removeprefix("#")), None
            )
            return copy.copy(found)

    def messages(self, channel: str) -> list[Message]:
        """All messages of a channel, thread replies included, oldest first."""
        with self.lock:
            return copy.deepcopy(self._messages.get(channel, []))

    def thread(self, channel: str, root_ts: str) -> list[Message]:
        """A thread's parent and replies, oldest first (copies only those, not the whole channel)."""
        with self.lock:
            found = [
                m
                for m in self._messages.get(channel, [])
                if m["ts"] == root_ts or m.get("thread_ts") == root_ts
            ]
            return copy.deepcopy(found)

    def message(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            return copy.deepcopy(self._find(channel, ts))

    def ephemeral(self, channel: str | None = None) -> list[Message]:
        """Ephemeral messages, oldest first, optionally only those of one channel."""
        with self.lock:
            return copy.deepcopy([m for m in self._ephemeral if channel in (None, m["channel"])])

    def response_posts(self, key: str | None = None) -> list[Message]:
        """Posts received on response URLs, oldest first, optionally only those for one key."""
        with self.lock:
            return copy.deepcopy([p for p in self._responses if key in (None, p["key"])])

    def files(self) -> list[dict[str, Any]]:
        """Metadata of every file the bot uploaded."""
        with self.lock:
            return copy.deepcopy(list(self._files.values()))

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes posted to a file's upload URL, if any."""
        with self.lock:
            return self._uploads.get(file_id)

    def wait_for(self, predicate: Callable[..., bool], timeout: float = 5.0, interval: float = 0.02) -> bool:
        """Poll ``predicate`` under the lock until it is true or ``timeout`` seconds pass.

        The predicate may take no argument or the workspace itself. It runs while the server is
        locked out of the state, so it must read the state only, never call the stand-in over HTTP.
        """
        takes_state = bool(inspect.signature(predicate).parameters)
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if predicate(self) if takes_state else predicate():
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    # -- writing (used by the Web API) ---------------------------------------------------------------

    def next_ts(self) -> str:
        """A new ``ts``: the current time, but always later than every ``ts`` handed out or seeded."""
        with self.lock:
            self._last_micros = max(time.time_ns() // 1000, self._last_micros + 1)
            return _format_ts(self._last_micros)

    def insert(
        self, channel: str, message: Message, *, ts: str | None = None, thread_ts: str | None = None
    ) -> str:
        """Store a message (a thread reply when ``thread_ts`` is given) and return its ``ts``.

        Raises ``KeyError`` for an unknown channel or thread and ``ValueError`` for a taken ``ts``.
        """
        with self.lock:
            messages = self._messages[channel]
            parent = None if thread_ts is None else self._thread_root(channel, thread_ts)
            if thread_ts is not None and parent is None:
                raise KeyError(f"no message {thread_ts} in {channel}")
            if ts is None:
                ts = self.next_ts()
            elif self._find(channel, ts) is not None:
                raise ValueError(f"{channel} already has a message with ts {ts}")
            else:
                seconds, micros = ts_key(ts)
                self._last_micros = max(self._last_micros, seconds * 1_000_000 + micros)
            message["ts"] = ts
            if parent is not None:
                message["thread_ts"] = parent["ts"]
                message["parent_user_id"] = parent.get("user")
                _add_reply(parent, message)
            messages.append(message)
            messages.sort(key=lambda m: ts_key(m["ts"]))
            return ts

    def replace(self, channel: str, ts: str, changes: Message) -> Message:
        """Apply ``changes`` to a stored message and return a copy of the result."""
        with self.lock:
            message = self._find(channel, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel}")
            message.update(changes)
            return copy.deepcopy(message)

    def add_ephemeral(self, message: Message) -> str:
        with self.lock:
            ts = message["ts"] = self.next_ts()
            self._ephemeral.append(message)
            return ts

    def add_file(self, file: dict[str, Any]) -> None:
        with self.lock:
            self._files[file["id"]] = copy.deepcopy(file)

    def file(self, file_id: str) -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self._files.get(file_id))

    def store_upload(self, file_id: str, content: bytes) -> bool:
        """Keep the bytes posted to a file's upload URL; ``False`` if no such file was announced."""
        with self.lock:
            if file_id not in self._files:
                return False
            self._uploads[file_id] = content
            return True

    def record_response(self, key: str, payload: Message) -> None:
        """Record a post on a response URL.

        Keys made by ``response_key`` place the post in its channel, visible to its user; with
        ``replace_original`` and a message ``ts`` in the key, the original message is replaced.
        """
        with self.lock:
            channel, user, message_ts = [*key.split(":"), "", "", ""][:3]
            replaced = bool(payload.get("replace_original")) and self._find(channel, message_ts) is not None
            if replaced:
                content = {"text": payload.get("text", ""), "blocks": payload.get("blocks", [])}
                self.replace(channel, message_ts, content)
            record = {
                **payload,
                "key": key,
                "ts": self.next_ts(),
                "channel": channel or None,
                "user": user or None,
                "message_ts": message_ts or None,
                "replaced": replaced,
            }
            self._responses.append(record)

    def _find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self._messages.get(channel, []) if m["ts"] == ts), None)

    def _thread_root(self, channel: str, ts: str) -> Message | None:
        """The message at ``ts``, or its thread's parent when it is a reply."""
        message = self._find(channel, ts)
        return message and self._find(channel, message.get("thread_ts") or message["ts"])


def _add_reply(parent: Message, reply: Message) -> None:
    parent["thread_ts"] = parent["ts"]
    parent["reply_count"] = parent.get("reply_count", 0) + 1
    reply_users = parent.setdefault("reply_users", [])
    if reply.get("user") not in reply_users:
        reply_users.append(reply.get("user"))
    parent["reply_users_count"] = len(reply_users)
    parent["latest_reply"] = max(parent.get("latest_reply", reply["ts"]), reply["ts"], key=ts_key)


def _format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
