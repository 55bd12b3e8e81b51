"""The Web API methods the stand-in serves, answering with Slack's response shapes and error names."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import mimetypes
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from bot.standin.blockkit import validate_blocks, validate_message_text
from bot.standin.state import Channel, Message, Workspace, ts_key

Args = dict[str, Any]

JSON_ARGS = ("blocks", "attachments", "files")
CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250


class ApiError(Exception):
    """A Slack error answer, ``{"ok": false, "error": error}``, optionally with ``response_metadata``."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


class WebApi:
    """Implements each served method as ``args -> response fields``; errors are raised as ``ApiError``."""

    def __init__(self, state: Workspace, base_url: str) -> None:
        self.state = state
        self.base_url = base_url
        self.methods: dict[str, Callable[[Args], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "bots.info": self.bots_info,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "conversations.create": self.conversations_create,
            "conversations.setTopic": self.conversations_set_topic,
            "conversations.invite": self.conversations_invite,
            "users.info": self.users_info,
            "usergroups.list": self.usergroups_list,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
        }

    def upload_url(self, file_id: str) -> str:
        return f"{self.base_url}upload/{file_id}"

    # -- methods -----------------------------------------------------------------------------------

    def auth_test(self, args: Args) -> dict[str, Any]:
        state = self.state
        return {
            "url": self.base_url,
            "team": state.team_name,
            "user": state.bot_name,
            "team_id": state.team_id,
            "user_id": state.bot_user_id,
            "bot_id": state.bot_id,
            "is_enterprise_install": False,
        }

    def bots_info(self, args: Args) -> dict[str, Any]:
        state = self.state
        if args.get("bot") != state.bot_id:
            raise ApiError("bot_not_found")
        bot = {"id": state.bot_id, "app_id": state.app_id, "user_id": state.bot_user_id, "deleted": False}
        return {"bot": {**bot, "name": state.bot_name}}

    def chat_post_message(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args, posting=True)
        message = self._bot_message({"text": "", **self._content(args)})
        thread_ts = args.get("thread_ts") or None
        if thread_ts and _flag(args, "reply_broadcast"):
            message["subtype"] = "thread_broadcast"
        ts = self._insert(channel, message, thread_ts)
        return {"channel": channel.id, "ts": ts, "message": self.state.message(channel.id, ts)}

    def chat_update(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args)
        ts = _required(args, "ts")
        original = self.state.message(channel.id, ts)
        if original is None:
            raise ApiError("message_not_found")
        if original.get("bot_id") != self.state.bot_id:
            raise ApiError("cant_update_message")
        changes = {
            **self._content(args),
            "edited": {"user": self.state.bot_user_id, "ts": self.state.next_ts()},
        }
        message = self.state.replace(channel.id, ts, changes)
        return {"channel": channel.id, "ts": ts, "text": message.get("text", ""), "message": message}

    def chat_post_ephemeral(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args, posting=True)
        user = _required(args, "user")
        if self.state.user(user) is None:
            raise ApiError("user_not_in_channel")
        message = self._bot_message({"text": "", **self._content(args)})
        message.update(channel=channel.id, user=user)
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        return {"message_ts": self.state.add_ephemeral(message)}

    def chat_get_permalink(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args)
        message = self.state.message(channel.id, _required(args, "message_ts"))
        if message is None:
            raise ApiError("message_not_found")
        permalink = f"{self.base_url}archives/{channel.id}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts", message["ts"]) != message["ts"]:
            permalink += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": permalink}

    def conversations_info(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args)
        self._granted(channel, "groups:read")
        return {"channel": self._channel_object(channel)}

    def conversations_create(self, args: Args) -> dict[str, Any]:
        """A public channel the bot creates and joins; Slack's name rules and errors."""
        name = _required(args, "name")
        if len(name) > CHANNEL_NAME_MAX:
            raise ApiError("invalid_name_maxlength")
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            raise ApiError("invalid_name_specials")
        if self.state.channel(name) is not None:
            raise ApiError("name_taken")
        channel_id = "C" + uuid.uuid4().hex[:10].upper()
        self.state.add_channel(channel_id, name)
        self.state.add_members(channel_id, [self.state.bot_user_id])
        return {"channel": self._channel_object(self._channel({"channel": channel_id}))}

    def conversations_set_topic(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args, posting=True)
        topic = str(args.get("topic") or "")
        if len(topic) > TOPIC_MAX:
            raise ApiError("too_long")
        self.state.set_topic(channel.id, topic)
        return {"channel": self._channel_object(self._channel(args))}

    def conversations_invite(self, args: Args) -> dict[str, Any]:
        channel = self._channel(args, posting=True)
        users = [u for u in _required(args, "users").split(",") if u]
        if any(self.state.user(u) is None for u in users):
            raise ApiError("user_not_found")
        if self.state.bot_user_id in users:
            raise ApiError("cant_invite_self")
        self.state.add_members(channel.id, users)
        return {"channel": self._channel_object(self._channel(args))}

    def _channel_object(self, channel: Channel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_im": False,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_general": False,
            "is_member": channel.is_member,
            "created": channel.created,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }

    def conversations_history(self, args: Args) -> dict[str, Any]:
        channel = self._readable_channel(args)
        in_window = _window(args)
        messages = [
            m
            for m in reversed(self.state.messages(channel.id))
            if m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast"
        ]
        page = _page([m for m in messages if in_window(m["ts"])], args, newest_first=True)
        return {**page, "pin_count": 0}

    def conversations_replies(self, args: Args) -> dict[str, Any]:
        channel = self._readable_channel(args)
        message = self.state.message(channel.id, _required(args, "ts"))
        if message is None:
            raise ApiError("thread_not_found")
        root = str(message.get("thread_ts") or message["ts"])
        in_window = _window(args)
        thread = [m for m in self.state.thread(channel.id, root) if in_window(m["ts"])]
        return _page(thread, args, newest_first=False)

    def users_info(self, args: Args) -> dict[str, Any]:
        user = self.state.user(_required(args, "user"))
        if user is None:
            raise ApiError("user_not_found")
        profile = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": self.state.team_id,
        }
        if user.is_bot:
            profile["bot_id"] = self.state.bot_id
        return {
            "user": {
                "id": user.id,
                "team_id": self.state.team_id,
                "name": user.name,
                "real_name": user.real_name,
                "deleted": False,
                "tz": user.tz,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "profile": profile,
            }
        }

    def usergroups_list(self, args: Args) -> dict[str, Any]:
        include_users = _flag(args, "include_users")
        groups = [
            {"id": g["id"], "team_id": self.state.team_id, "handle": g["handle"], "name": g["handle"]}
            | ({"users": list(g["users"]), "user_count": len(g["users"])} if include_users else {})
            for g in self.state.usergroups()
        ]
        return {"usergroups": groups}

    def files_get_upload_url_external(self, args: Args) -> dict[str, Any]:
        filename = _required(args, "filename")
        length = _int(args, "length")
        if length is None or length < 1:
            raise ApiError("invalid_arguments", ["[ERROR] length must be a positive integer"])
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        now = int(time.time())
        self.state.add_file(
            {
                "id": file_id,
                "created": now,
                "timestamp": now,
                "name": filename,
                "title": filename,
                "mimetype": mimetypes.guess_type(filename)[0] or "application/octet-stream",
                "filetype": filename.rpartition(".")[2] if "." in filename else "binary",
                "user": self.state.bot_user_id,
                "size": length,
                "permalink": f"{self.base_url}files/{self.state.bot_user_id}/{file_id}/{filename}",
                "channels": [],
            }
        )
        return {"upload_url": self.upload_url(file_id), "file_id": file_id}

    def files_complete_upload_external(self, args: Args) -> dict[str, Any]:
        items = _json_arg(args, "files", "invalid_arguments")
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, dict) and i.get("id") for i in items)
        ):
            raise ApiError("invalid_arguments", ["[ERROR] files must be a non-empty array of {id, title}"])
        files = []
        for item in items:
            file = self.state.file(item["id"])
            if file is None or self.state.file_content(item["id"]) is None:
                raise ApiError("file_not_found")
            files.append({**file, "title": item.get("title") or file["name"]})
        targets = [c for c in (args.get("channel_id"), *str(args.get("channels", "")).split(",")) if c]
        channels = [self._channel({"channel": target}, posting=True) for target in targets]
        for file in files:
            file["channels"] = [channel.id for channel in channels]
            self.state.add_file(file)
        for channel in channels:
            message = self._bot_message(
                {"text": args.get("initial_comment") or "", "files": files, "upload": True}
            )
            self._insert(channel, message, args.get("thread_ts") or None)
        return {"files": [{"id": file["id"], "title": file["title"]} for file in files]}

    # -- helpers -----------------------------------------------------------------------------------

    def _channel(self, args: Args, *, posting: bool = False) -> Channel:
        """The channel named by ``args["channel"]``; when ``posting``, also check the bot may post there."""
        channel = self.state.channel(str(args.get("channel") or ""))
        if channel is None:
            raise ApiError("channel_not_found")
        if posting and channel.is_archived:
            raise ApiError("is_archived")
        if posting and not channel.is_member:
            raise ApiError("not_in_channel")
        return channel

    def _readable_channel(self, args: Args) -> Channel:
        """A channel whose messages the bot may read: a bot token only sees channels it is in."""
        channel = self._channel(args)
        self._granted(channel, "groups:history")
        if not channel.is_member:
            raise ApiError("not_in_channel")
        return channel

    def _granted(self, channel: Channel, private_scope: str) -> None:
        """Slack answers ``missing_scope`` for a private channel when the token lacks its groups scope."""
        if channel.is_private and private_scope not in self.state.scopes:
            raise ApiError("missing_scope")

    def _content(self, args: Args) -> Message:
        """The text, blocks and attachments given for a message, checked the way Slack checks them."""
        content: Message = {}
        if args.get("text"):
            content["text"] = str(args["text"])
        blocks = _json_arg(args, "blocks", "invalid_blocks_format")
        if blocks is not None:
            problems = validate_blocks(blocks)
            if problems:
                raise ApiError("invalid_blocks", [f"[ERROR] {problem}" for problem in problems])
            content["blocks"] = blocks
        attachments = _json_arg(args, "attachments", "invalid_attachments")
        if attachments is not None:
            content["attachments"] = attachments
        if not any(content.get(key) for key in ("text", "blocks", "attachments")):
            raise ApiError("no_text")
        if validate_message_text(content.get("text", "")):
            raise ApiError("msg_too_long")
        return content

    def _bot_message(self, content: Message) -> Message:
        state = self.state
        return {
            "type": "message",
            **content,
            "user": state.bot_user_id,
            "bot_id": state.bot_id,
            "app_id": state.app_id,
            "team": state.team_id,
            "bot_profile": {
                "id": state.bot_id,
                "app_id": state.app_id,
                "name": state.bot_name,
                "team_id": state.team_id,
                "deleted": False,
            },
        }

    def _insert(self, channel: Channel, message: Message, thread_ts: str | None) -> str:
        try:
            return self.state.insert(channel.id, message, thread_ts=thread_ts)
        except KeyError:
            raise ApiError("thread_not_found") from None


def _required(args: Args, name: str) -> str:
    value = args.get(name)
    if value in (None, ""):
        raise ApiError("invalid_arguments", [f"[ERROR] missing required field: {name}"])
    return str(value)


def _flag(args: Args, name: str) -> bool:
    return args.get(name) in (True, "true", "1", 1)


def _int(args: Args, name: str) -> int | None:
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments", [f"[ERROR] {name} must be an integer"]) from None


def decode_json_args(args: Args) -> Args:
    """Decode the arguments that form bodies carry as JSON strings; undecodable ones stay strings."""
    for name in JSON_ARGS:
        value = args.get(name)
        if isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                args[name] = json.loads(value)
    return args


def _json_arg(args: Args, name: str, error: str) -> Any:
    """A JSON argument; a string here is one that ``decode_json_args`` could not decode."""
    value = args.get(name)
    if isinstance(value, str):
        raise ApiError(error, [f"[ERROR] {name} is not valid JSON"])
    return value


def _window(args: Args) -> Callable[[str], bool]:
    """A test for ``ts`` against the ``oldest``/``latest``/``inclusive`` arguments."""
    inclusive = _flag(args, "inclusive")
    bounds = {}
    for name in ("oldest", "latest"):
        if args.get(name):
            try:
                bounds[name] = ts_key(str(args[name]))
            except ValueError:
                raise ApiError(f"invalid_ts_{name}") from None

    def in_window(ts: str) -> bool:
        key = ts_key(ts)
        oldest, latest = bounds.get("oldest"), bounds.get("latest")
        if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
            return False
        return latest is None or key < latest or (key == latest and inclusive)

    return in_window


def _page(messages: list[Message], args: Args, *, newest_first: bool) -> dict[str, Any]:
    """One page of ``messages`` (already in answer order), with Slack's cursor pagination fields."""
    limit = min(max(_int(args, "limit") or 100, 1), 999)
    cursor = args.get("cursor")
    if cursor:
        start = _decode_cursor(str(cursor))
        messages = [
            m for m in messages if (ts_key(m["ts"]) <= start if newest_first else ts_key(m["ts"]) >= start)
        ]
    has_more = len(messages) > limit
    next_cursor = _encode_cursor(messages[limit]["ts"]) if has_more else ""
    return {
        "messages": messages[:limit],
        "has_more": has_more,
        "response_metadata": {"next_cursor": next_cursor},
    }


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        prefix, _, ts = base64.b64decode(cursor, validate=True).decode().partition(":")
        if prefix != "next_ts":
            raise ValueError(cursor)
        return ts_key(ts)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError("invalid_cursor") from None
