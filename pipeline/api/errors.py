"""The openAPI's error taxonomy (Table 4 of the document), shared by client and sandbox.

    2000x  authorisation   fatal: never retried (a wrong secret stays wrong)
    3000x  routing         fatal
    4000x  parameters      fatal, with the server's message
    50000  server error    transient: retried
    HTTP 5xx / 429, timeouts, connection resets, a body that is not JSON: transient
"""

from __future__ import annotations

SUCCESS = 10000

#: Table 4, code -> original Chinese message (the sandbox answers with these).
ERROR_MESSAGES: dict[int, str] = {
    10000: "成功",
    20001: "applicationID 未传",
    20002: "signMsg 未传",
    20003: "applicationID 错误",
    20004: "applicationID active=0 无效",
    20005: "授权验证异常",
    30001: "未找到对应路由",
    30002: "未找到对应方法 GET/POST",
    40001: "缺少参数",
    40002: "参数类型不正确",
    40003: "参数数值异常",
    40004: "用户异常操作",
    50000: "服务端错误",
}


class ApiError(Exception):
    """An openAPI call that did not succeed.

    ``error_code`` is the platform's code (Table 4) or ``None`` for transport
    failures; ``msg`` the server's message or a description; ``path`` the
    endpoint.  Never carries the secret or a signMsg.
    """

    transient = False

    def __init__(self, msg: str, *, error_code: int | None = None, path: str = "", http_status: int | None = None,
                 attempts: int = 1):
        self.msg = msg
        self.error_code = error_code
        self.path = path
        self.http_status = http_status
        self.attempts = attempts
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [self.path or "?"]
        if self.error_code is not None:
            parts.append(f"error_code={self.error_code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        text = " ".join(parts) + f": {self.msg}"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text

    def __reduce__(self):  # picklable across Dagster processes
        return (_rebuild, (type(self), self.msg, self.error_code, self.path, self.http_status, self.attempts))


def _rebuild(cls, msg, error_code, path, http_status, attempts):
    return cls(msg, error_code=error_code, path=path, http_status=http_status, attempts=attempts)


class AuthError(ApiError):
    """2000x: applicationID or signMsg rejected. Fatal."""


class RoutingError(ApiError):
    """3000x: unknown path or method. Fatal."""


class ParameterError(ApiError):
    """4000x: missing, mistyped, out-of-range or forbidden parameters. Fatal."""


class TransientError(ApiError):
    """A failure that may pass: 50000, HTTP 5xx/429, timeout, reset, a body that is not JSON."""

    transient = True

    def __init__(self, msg: str, *, retry_after: float | None = None, **kw):
        self.retry_after = retry_after
        super().__init__(msg, **kw)


class OutcomeUnknown(ApiError):
    """A change (a management endpoint) whose request may or may not have been applied: the answer
    was lost after the request was sent.  Never retried blindly, since the platform could apply it
    twice; check the platform's state before trying again."""


class RetriesExhausted(ApiError):
    """Transient failures went on past the retry budget (attempts or total time)."""


class PaginationError(ApiError):
    """Pages that do not add up (row total differs from ``count``, a short or
    over-long page before the last, page metadata changing between pages). Fatal."""


def error_for_code(error_code: int, msg: str, path: str, http_status: int | None = None) -> ApiError:
    """The ApiError subclass for a platform error code."""
    if 20000 <= error_code < 30000:
        cls: type[ApiError] = AuthError
    elif 30000 <= error_code < 40000:
        cls = RoutingError
    elif 40000 <= error_code < 50000:
        cls = ParameterError
    elif 50000 <= error_code < 60000:
        cls = TransientError
    else:  # a code Table 4 does not know: fail at once rather than retry blindly
        cls = ApiError
    return cls(msg, error_code=error_code, path=path, http_status=http_status)
