"""A real HTTP server on 127.0.0.1 for client tests: protocol checks, scripted answers, faults.

    with Loopback(script) as srv:          # script(path, params, attempt) -> reply
        client = LiveClassClient(srv.url, srv.app_id, srv.secret, ...)

The server checks ``applicationID`` (20001 / 20003) and decodes ``signMsg`` with
:func:`decode_sign_msg` (20002 / 20005), then asks the script.  ``attempt`` is
1 for the first request with a given (path, params) and counts up on repeats.
A script returns a dict (sent as a 200 JSON body) or a :class:`Reply`; helpers
build the usual ones and the faults:

    ok(data=..., **top)   error(code, msg)   http(status, retry_after=None)
    slow(seconds, reply)  reset()  close()  truncated(body)  raw(bytes)
    trickle(seconds, reply)  (the body one byte at a time)   chunked(reply)  (Transfer-Encoding: chunked)

Every request is recorded in ``srv.requests`` (path, params, attempt, signMsg,
applicationID, time, form field names).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from pipeline.api.signing import SignatureError, decode_sign_msg

APP_ID = "3212f5f463edb370ff55d3c3a7a15c8f"
SECRET = "32bf27979cf0dba95d80f500f553ed53"


@dataclass
class Reply:
    status: int = 200
    body: Any = None            # dict/list -> JSON; str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0          # seconds before answering
    fault: str | None = None    # "reset" | "close" | "truncate"
    trickle: float = 0.0        # seconds between the body's bytes, sent one at a time
    chunked: bool = False       # Transfer-Encoding: chunked instead of Content-Length


def ok(data: Any = None, **top: Any) -> Reply:
    body = {"status": 1, "error_code": 10000, "msg": "成功"}
    if data is not None:
        body["data"] = data
    body.update(top)
    return Reply(body=body)


def error(code: int, msg: str = "错误", status: int = 0) -> Reply:
    return Reply(body={"status": status, "error_code": code, "msg": msg})


def http(status: int, retry_after: float | str | None = None, body: Any = "error") -> Reply:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Reply(status=status, body=body, headers=headers)


def slow(seconds: float, reply: Reply | dict | None = None) -> Reply:
    r = _reply(reply if reply is not None else ok())
    r.delay = seconds
    return r


def trickle(seconds: float, reply: Reply | dict | None = None) -> Reply:
    """Headers at once, then the body one byte every ``seconds``: never idle long enough for a read timeout."""
    r = _reply(reply if reply is not None else ok())
    r.trickle = seconds
    return r


def chunked(reply: Reply | dict | None = None) -> Reply:
    r = _reply(reply if reply is not None else ok())
    r.chunked = True
    return r


def reset() -> Reply:
    return Reply(fault="reset")


def close() -> Reply:
    return Reply(fault="close")


def truncated(body: Any = None) -> Reply:
    """Headers promise the whole body, half of it is sent, then the connection closes."""
    return Reply(body=body if body is not None else {"status": 1, "error_code": 10000, "data": list(range(50))},
                 fault="truncate")


def raw(payload: bytes | str, status: int = 200) -> Reply:
    return Reply(status=status, body=payload)


def _reply(value: Any) -> Reply:
    if isinstance(value, Reply):
        return value
    return Reply(body=value)


@dataclass
class Request:
    path: str
    params: dict | None
    attempt: int
    sign_msg: str | None
    app_id: str | None
    fields: list[str]
    at: float
    content_type: str


Script = Callable[[str, dict, int], Any]


def default_script(path: str, params: dict, attempt: int) -> Reply:
    return ok({"path": path, "params": params})


class Loopback:
    def __init__(self, script: Script = default_script, *, app_id: str = APP_ID, secret: str = SECRET):
        self.script = script
        self.app_id = app_id
        self.secret = secret
        self.requests: list[Request] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.canned: bytes | None = None  # benchmark fast path: skip decoding, answer these bytes
        handler = type("Handler", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128
        self.httpd.handle_error = lambda request, client_address: None  # faults make noisy tracebacks
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> Loopback:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for assertions -----------------------------------------------------

    def hits(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def params_for(self, path: str) -> list[dict]:
        with self._lock:
            return [r.params for r in self.requests if r.path == path]

    def _record(self, path: str, params: dict | None, sign_msg, app_id, fields, ctype) -> int:
        key = path + "\0" + json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
        with self._lock:
            self._seen[key] += 1
            attempt = self._seen[key]
            self.requests.append(Request(path, params, attempt, sign_msg, app_id, fields, time.time(), ctype))
        return attempt


class _Handler(BaseHTTPRequestHandler):
    owner: Loopback
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind a pooled client

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without NODELAY, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self._send(Reply(status=405, body={"status": 0, "error_code": 30002, "msg": "未找到对应方法 GET/POST"}))

    def do_POST(self):
        srv = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if srv.canned is not None:
            self._send(Reply(body=srv.canned))
            return
        form = parse_qs(raw_body.decode("utf-8", "replace"), keep_blank_values=True)
        app_id = form.get("applicationID", [None])[0]
        sign_msg = form.get("signMsg", [None])[0]
        ctype = self.headers.get("Content-Type", "")
        path = self.path.split("?", 1)[0]
        params = None
        reply: Reply | None = None
        if not app_id:
            reply = error(20001, "applicationID 未传")
        elif not sign_msg:
            reply = error(20002, "signMsg 未传")
        elif app_id != srv.app_id:
            reply = error(20003, "applicationID 错误")
        else:
            try:
                params = decode_sign_msg(sign_msg, srv.secret)
            except SignatureError:
                reply = error(20005, "授权验证异常")
        attempt = srv._record(path, params, sign_msg, app_id, sorted(form), ctype)
        if reply is None:
            reply = _reply(srv.script(path, params, attempt))
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.fault in ("reset", "close"):
            self.close_connection = True
            if reply.fault == "reset":  # RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            try:
                self.connection.close()
            except OSError:
                pass
            return
        body = reply.body
        if isinstance(body, (dict, list)) or body is None:
            payload = json.dumps(body if body is not None else {}, ensure_ascii=False).encode("utf-8")
            ctype = "application/json"
        elif isinstance(body, str):
            payload, ctype = body.encode("utf-8"), "text/html; charset=utf-8"
        else:
            payload, ctype = bytes(body), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(payload)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.fault == "truncate":
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.close()
                return
            self.end_headers()
            if reply.chunked:
                for i in range(0, len(payload), 4096):
                    part = payload[i:i + 4096]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif reply.trickle:
                self.wfile.flush()
                for i in range(len(payload)):
                    time.sleep(reply.trickle)
                    self.wfile.write(payload[i:i + 1])
                    self.wfile.flush()
            else:
                self.wfile.write(payload)
        except OSError:  # the client gave up (read timeout) before we answered
            self.close_connection = True
