"""Live sockets end with the session that opened them.

A WebSocket is authenticated once, at its handshake. Without more, a socket opened before a logout
keeps streaming payloads, results and logs after it. So:
- logging out sends `session.ended` to the session's channel group (across web processes with
  channels_redis), and every socket of that session closes at once;
- every JOBDECK_LIVE_SESSION_CHECK_SECONDS (5 s) the process re-checks the sessions of its open
  sockets (`watch`: one task, each distinct session read once however many sockets it has open, in
  one hop to the database thread): the session still exists and has not expired, it still belongs
  to the user, its auth hash still matches the user's password, the user is still active and still
  has a dashboard role. This covers expiry, a password change elsewhere, deactivation and a lost
  role, wherever they happened. (One check per socket, each its own hop, queued hundreds of reads a
  second on the thread the consumers' handshakes also need.)
A socket whose session ended closes with SESSION_ENDED (4001); reconnecting is then refused at the
handshake like any anonymous one, and app.js tells the user they are signed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from importlib import import_module
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model, user_logged_out
from django.dispatch import receiver
from django.utils.crypto import constant_time_compare

from dashboard.permissions import access_for
from jobs.conf import read_setting

logger = logging.getLogger(__name__)
# The close code app.js reads as "signed out". Not 1008 (policy violation): daphne's WebSocket library
# lets a server send only 1000 or 3000-4999, and raises on anything else.
SESSION_ENDED = 4001


def check_interval() -> float:
    """Seconds between two checks of an open socket's session (JOBDECK_LIVE_SESSION_CHECK_SECONDS, default 5)."""
    return read_setting("JOBDECK_LIVE_SESSION_CHECK_SECONDS", 5.0)


def session_group(session_key: str) -> str:
    """The channel group of one session's sockets (hashed: the key is a credential, the group name is not)."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def still_signed_in(*, session_key: str, user_id: Any) -> bool:
    """Whether the session `session_key` still signs in `user_id` with a dashboard role. Reads only."""
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()  # {} once gone or expired
    if data.get(SESSION_KEY) is None or str(data[SESSION_KEY]) != str(user_id):
        return False
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return False
    session_hash = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(session_hash, h) for h in hashes):
        return False  # the password changed since this session signed in
    return access_for(user).view


def ended_sessions(sessions: set[tuple[str, Any]]) -> set[tuple[str, Any]]:
    """Of (session key, user id) pairs, those that no longer sign their user in. Reads only."""
    return {(key, user_id) for key, user_id in sessions if not still_signed_in(session_key=key, user_id=user_id)}


class Socket(Protocol):
    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None: ...


class SessionWatch:
    """This process's open sockets by session, and the task that closes those whose session ended."""

    def __init__(self) -> None:
        self.sockets: dict[Socket, tuple[str, Any]] = {}
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def add(self, socket: Socket, *, session_key: str, user_id: Any) -> None:
        """Watch `socket`'s session from now on (the first socket starts the checking task)."""
        self.sockets[socket] = (session_key, user_id)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.loop is not loop:
            self.loop = loop
            self.task = loop.create_task(self._run(), name="jobdeck-session-watch")

    async def remove(self, socket: Socket) -> None:
        """Stop watching `socket`; the last one to go stops the task."""
        self.sockets.pop(socket, None)
        if not self.sockets and self.task is not None and self.loop is asyncio.get_running_loop():
            task, self.task = self.task, None
            if task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        check = database_sync_to_async(ended_sessions)
        while self.sockets:
            await asyncio.sleep(check_interval())
            try:
                ended = await check(set(self.sockets.values()))
            except Exception:  # a database hiccup: keep the sockets, check again next time
                logger.warning("could not check the live sockets' sessions", exc_info=True)
                continue
            for socket, session in list(self.sockets.items()):
                if session in ended:
                    self.sockets.pop(socket, None)
                    try:
                        await socket.close(code=SESSION_ENDED)
                    except Exception:  # already closing: nothing left to stop
                        logger.debug("closing a live socket failed", exc_info=True)


watch = SessionWatch()


@receiver(user_logged_out, dispatch_uid="jobdeck-close-live-sockets")
def close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Close every live socket of the session being logged out (sent before Django flushes it)."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    layer = get_channel_layer()
    if not session_key or layer is None:
        return
    try:
        async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.ended"})
    except Exception:  # the channel layer is down: the logout still succeeds, the periodic check closes them
        logger.warning("could not tell the live sockets of a logged-out session to close", exc_info=True)
