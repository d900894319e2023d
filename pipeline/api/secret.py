"""The application secret, held once with the keys derived from it.

:class:`Secret` is the only object that keeps the secret: its ``repr`` and
``str`` never show it and it refuses to be pickled or copied, so it cannot leak
through a log line, a Dagster event or a process boundary by accident.  It also
holds what the signMsg codec derives from the secret (the document's PHP
reference, ``openssl_encrypt`` + ``hash_hmac``):

* the AES-256 key: the secret's bytes NUL-padded or cut to 32 bytes, as
  ``openssl_encrypt`` does with a short or long key;
* a keyed HMAC-SHA256 over the *whole* secret, as ``hash_hmac`` does; it is
  never updated itself, only copied per message.

A ``str`` secret is used as its UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["Secret"]


class Secret:
    """A secret that hides itself; see the module docstring."""

    __slots__ = ("_value", "_hmac", "_aes")

    def __init__(self, value: str | bytes | bytearray):
        if isinstance(value, str):
            raw = _utf8(value)
        elif isinstance(value, (bytes, bytearray)):
            raw = bytes(value)
        else:
            raise TypeError("the secret must be str or bytes")
        if raw is None:  # raised here, not inside an except block: no exception keeps the text
            raise ValueError("the secret is not encodable as UTF-8")
        if not raw:
            raise ValueError("the secret is empty")
        self._value = raw
        self._hmac = hmac.new(raw, None, hashlib.sha256)
        self._aes = algorithms.AES(raw[:32].ljust(32, b"\0"))

    def get(self) -> bytes:
        """The secret's bytes."""
        return self._value

    def mac(self) -> hmac.HMAC:
        """A fresh HMAC-SHA256 keyed with the secret."""
        return self._hmac.copy()

    def cbc(self, iv: bytes) -> Cipher:
        """AES-256-CBC with the secret's AES key and ``iv``."""
        return Cipher(self._aes, modes.CBC(iv))

    def __repr__(self) -> str:
        return "<secret hidden>"

    __str__ = __repr__

    def __reduce__(self):  # pickle, copy and deepcopy all go through here
        raise TypeError("the secret cannot be pickled or copied")


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None
