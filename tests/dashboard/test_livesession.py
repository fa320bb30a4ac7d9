"""dashboard/livesession.py: an open live socket closes (4001) once its session no longer signs the user in:
at logout at once, and on the next periodic check after expiry, a password change, deactivation or a lost
role; reconnecting is then refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.test import Client, override_settings

from dashboard import livesession
from tests.dashboard.conftest import client_for, make_user
from tests.dashboard.test_consumers import TIMEOUT, communicator, receive_until, run

pytestmark = pytest.mark.django_db(transaction=True)


def vera() -> User:
    return User.objects.get(username="vera")


def expire_session(client: Client) -> None:
    Session.objects.filter(session_key=client.session.session_key).delete()


def change_password(client: Client) -> None:
    user = vera()
    user.set_password("another password entirely")  # elsewhere (admin, another session): this one is stale
    user.save()


def deactivate(client: Client) -> None:
    User.objects.filter(username="vera").update(is_active=False)


def lose_role(client: Client) -> None:
    vera().groups.remove(Group.objects.get(name="viewer"))


async def assert_closed_and_refused(ws: Any, path: str, client: Client) -> None:
    output = await ws.receive_output(timeout=TIMEOUT)
    while output["type"] == "websocket.send":  # an update the fanout handed over before the close: harmless
        output = await ws.receive_output(timeout=TIMEOUT)
    assert output == {"type": "websocket.close", "code": livesession.SESSION_ENDED}
    await ws.disconnect()
    again = communicator(path, client)
    connected, code = await again.connect()
    assert (connected, code) == (False, 4003)
    await again.disconnect()


@pytest.mark.parametrize("path", ["/ws/jobs/", "/ws/overview/"])
def test_logout_closes_the_sessions_open_sockets_at_once(transactional_db: None, path: str) -> None:
    client = client_for(make_user("vera", "viewer"))
    cookie_client = Client()
    cookie_client.cookies = client.cookies  # the same session, as a second tab would hold it

    async def scenario() -> None:
        ws = communicator(path, client)
        assert (await ws.connect())[0]
        await database_sync_to_async(client.logout)()  # sends user_logged_out, like the logout view
        await assert_closed_and_refused(ws, path, cookie_client)

    # No periodic check during the test: the logout message alone must close the socket.
    with override_settings(JOBDECK_LIVE_SESSION_CHECK_SECONDS=3600):
        run(scenario)


def test_logout_of_another_session_leaves_this_one_open(transactional_db: None, make_job: Any) -> None:
    user = make_user("vera", "viewer")
    mine, other = client_for(user), client_for(user)

    async def scenario() -> None:
        ws = communicator("/ws/jobs/", mine)
        assert (await ws.connect())[0]
        await database_sync_to_async(other.logout)()
        job = await database_sync_to_async(make_job)()  # the socket still streams: the new job arrives
        await receive_until(ws, lambda m: f'id="job-{job.pk}"' in m)
        await ws.disconnect()

    with override_settings(JOBDECK_LIVE_SESSION_CHECK_SECONDS=3600):
        run(scenario)


@pytest.mark.parametrize("end", [expire_session, change_password, deactivate, lose_role])
def test_the_periodic_check_closes_a_socket_whose_session_no_longer_counts(
    transactional_db: None, end: Callable[[Client], None]
) -> None:
    client = client_for(make_user("vera", "viewer"))

    async def scenario() -> None:
        ws = communicator("/ws/jobs/", client)
        assert (await ws.connect())[0]
        await database_sync_to_async(end)(client)
        await assert_closed_and_refused(ws, "/ws/jobs/", client)

    with override_settings(JOBDECK_LIVE_SESSION_CHECK_SECONDS=0.05):
        run(scenario)


def test_a_valid_session_passes_the_check(transactional_db: None) -> None:
    client = client_for(make_user("vera", "viewer"))

    assert livesession.still_signed_in(session_key=client.session.session_key, user_id=vera().pk)
    assert not livesession.still_signed_in(session_key="no-such-session", user_id=vera().pk)
    assert not livesession.still_signed_in(session_key=client.session.session_key, user_id=vera().pk + 1)


def test_the_periodic_check_reads_each_session_once_however_many_sockets_it_has(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    closed: list[str] = []

    def still_signed_in(*, session_key: str, user_id: Any) -> bool:
        checked.append(session_key)
        return session_key != "gone"

    class Socket:
        def __init__(self, key: str) -> None:
            self.key = key

        async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
            assert code == livesession.SESSION_ENDED
            closed.append(self.key)

    monkeypatch.setattr(livesession, "still_signed_in", still_signed_in)
    sockets = [Socket("kept") for _ in range(5)] + [Socket("gone") for _ in range(3)]

    async def scenario() -> None:
        import asyncio

        watch = livesession.SessionWatch()
        for socket in sockets:
            watch.add(socket, session_key=socket.key, user_id=1)
        async with asyncio.timeout(TIMEOUT):
            while len(closed) < 3:
                await asyncio.sleep(0.01)
        for socket in sockets:
            await watch.remove(socket)
        assert watch.task is None

    with override_settings(JOBDECK_LIVE_SESSION_CHECK_SECONDS=0.01):
        run(scenario)

    assert sorted(checked[:2]) == ["gone", "kept"]  # one read per distinct session, not per socket
    assert checked.count("gone") == 1 and closed == ["gone"] * 3
