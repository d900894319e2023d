"""uvicorn's httptools protocol with a deadline on request headers.

uvicorn bounds the idle time *between* requests on a kept-alive connection
(``timeout_keep_alive``) but has no bound on how long a client may take to send
a request's headers: a client that opens a connection and trickles a header
byte a second holds it for ever (slowloris).  :func:`header_timeout_protocol`
returns a subclass that arms a timer when a connection opens and when the
first byte of a further request arrives, disarms it once the headers are
complete, and on expiry answers HTTP 408 (if no response is under way) and
closes the connection.  Imported only when a server is started.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["header_timeout_protocol"]

_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: 15\r\nconnection: close\r\n\r\nRequest Timeout")


class _HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        if self._header_timer is None and self.header_timeout > 0:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_timer()  # a further request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_408)
        self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HttpToolsProtocol]:
    """An httptools protocol class closing connections whose request headers take longer than ``seconds``."""
    return type("HeaderTimeoutProtocol", (_HeaderTimeoutProtocol,), {"header_timeout": float(seconds)})
