"""The sandbox's refusal: a request turned down with a Table 4 code.

Raised by the handlers (parameter checks) and by the platform (state checks:
a mobile already registered, a full course, ...); the server turns it into the
error envelope.  The bottom of the sandbox: it imports nothing.
"""

from __future__ import annotations

__all__ = ["Reject"]


class Reject(Exception):
    """A request refused with a Table 4 code; ``detail`` follows the code's text in ``msg``."""

    def __init__(self, code: int, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
