"""The dashboard's listening socket says it is TCP, so asyncio sets TCP_NODELAY on every
connection: a proto-0 socket leaves Nagle on and each keep-alive response waits ~40 ms for a
delayed ACK (seen in the dashboard bench before its server was fixed)."""

from __future__ import annotations

import socket

from trialbook.dashboard._serve import _listen


def test_the_dashboard_listens_on_a_socket_whose_protocol_is_tcp() -> None:
    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.type == socket.SOCK_STREAM
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
