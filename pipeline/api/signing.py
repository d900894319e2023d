"""The signMsg codec: exactly the PHP reference of the openAPI document.

    signMsg = base64(json_encode({"iv": b64(iv), "value": b64(AES-256-CBC(serialize(params))),
                                  "mac": hex(HMAC-SHA256(secret, b64(iv) + value))}))

* AES key: the secret's raw bytes, NUL-padded or cut to 32 bytes (what
  ``openssl_encrypt`` does with a short or long key); the HMAC uses the whole
  secret, as ``hash_hmac`` does.
* ``json_encode`` escapes ``/`` as ``\\/``; base64 never contains any other
  character JSON would escape, so the JSON text is assembled directly.

Decoding is strict because a server feeds it hostile input: the MAC is
compared in constant time before anything is decrypted or unserialized, and
every failure raises :class:`SignatureError` whose reason never contains the
secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import phpserial

__all__ = ["SignatureError", "encode_sign_msg", "decode_sign_msg", "MAX_SIGN_MSG_LENGTH"]

#: Longest signMsg the decoder looks at (characters); a real one is ~1 KB.
MAX_SIGN_MSG_LENGTH = 4 * 1024 * 1024


class SignatureError(ValueError):
    """A signMsg that cannot be produced or accepted; ``reason`` is safe to log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _aes_key(secret: bytes) -> bytes:
    return secret[:32].ljust(32, b"\0")


def _secret_bytes(secret: str | bytes) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise SignatureError("the secret is empty")
    return secret


def encode_sign_msg(params: Mapping[str, Any], secret: str | bytes, *, iv: bytes | None = None) -> str:
    """Serialize, encrypt and sign ``params``; a fresh random IV unless one is given."""
    if not isinstance(params, Mapping):
        raise SignatureError("params must be a mapping")
    key = _secret_bytes(secret)
    if iv is None:
        iv = os.urandom(16)
    elif len(iv) != 16:
        raise SignatureError("the IV must be 16 bytes")
    try:
        plain = phpserial.dumps(params)
    except phpserial.PhpSerializeError as exc:
        raise SignatureError(f"cannot serialize params: {exc}") from None
    pad = 16 - len(plain) % 16
    plain += bytes((pad,)) * pad
    enc = Cipher(algorithms.AES(_aes_key(key)), modes.CBC(iv)).encryptor()
    value = base64.b64encode(enc.update(plain) + enc.finalize())
    iv_b64 = base64.b64encode(iv)
    mac = hmac.new(key, iv_b64 + value, hashlib.sha256).hexdigest().encode("ascii")
    doc = b'{"iv":"' + iv_b64 + b'","value":"' + value.replace(b"/", b"\\/") + b'","mac":"' + mac + b'"}'
    return base64.b64encode(doc).decode("ascii")


def _b64decode(text: str | bytes, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError(f"{what} is not valid base64") from None


def decode_sign_msg(sign_msg: str | bytes, secret: str | bytes) -> dict[str, Any]:
    """Verify and decrypt a signMsg back to its parameter map."""
    key = _secret_bytes(secret)
    if isinstance(sign_msg, str):
        try:
            sign_msg = sign_msg.encode("ascii")
        except UnicodeEncodeError:
            raise SignatureError("signMsg is not valid base64") from None
    if not isinstance(sign_msg, (bytes, bytearray)):
        raise SignatureError("signMsg must be a string")
    if not sign_msg:
        raise SignatureError("signMsg is empty")
    if len(sign_msg) > MAX_SIGN_MSG_LENGTH:
        raise SignatureError("signMsg is too long")
    raw = _b64decode(sign_msg, "signMsg")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise SignatureError("signMsg does not hold a JSON object") from None
    if not isinstance(doc, dict):
        raise SignatureError("signMsg does not hold a JSON object")
    iv_b64, value, mac = doc.get("iv"), doc.get("value"), doc.get("mac")
    if not (isinstance(iv_b64, str) and isinstance(value, str) and isinstance(mac, str)):
        raise SignatureError("signMsg JSON needs string fields iv, value and mac")
    if "tag" in doc and doc["tag"] not in ("", None):
        raise SignatureError("signMsg carries an AEAD tag this cipher does not use")
    iv = _b64decode(iv_b64, "iv")
    if len(iv) != 16:
        raise SignatureError("iv is not 16 bytes")
    try:
        mac_given = mac.encode("ascii")
        signed = (iv_b64 + value).encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError("mac does not match") from None
    expected = hmac.new(key, signed, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, mac_given):
        raise SignatureError("mac does not match")
    cipher_bytes = _b64decode(value, "value")
    if not cipher_bytes or len(cipher_bytes) % 16:
        raise SignatureError("ciphertext length is not a multiple of the block size")
    dec = Cipher(algorithms.AES(_aes_key(key)), modes.CBC(iv)).decryptor()
    plain = dec.update(cipher_bytes) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes((pad,)) * pad:
        raise SignatureError("bad PKCS7 padding")
    try:
        params = phpserial.loads(plain[:-pad])
    except phpserial.PhpSerializeError as exc:
        raise SignatureError(f"cannot unserialize params: {exc}") from None
    if isinstance(params, list):  # a PHP array with keys 0..n-1
        params = dict(enumerate(params))
    if not isinstance(params, dict):
        raise SignatureError("params are not a PHP array")
    return params
