"""The signMsg codec: exactly the PHP reference of the openAPI document.

    signMsg = base64(json_encode({"iv": b64(iv), "value": b64(AES-256-CBC(serialize(params))),
                                  "mac": hex(HMAC-SHA256(secret, b64(iv) + value))}))

* AES key: the secret's raw bytes, NUL-padded or cut to 32 bytes (what
  ``openssl_encrypt`` does with a short or long key); the HMAC uses the whole
  secret, as ``hash_hmac`` does.  A ``str`` secret is used as its UTF-8 bytes.
* ``json_encode`` escapes ``/`` as ``\\/`` (in the IV as well as the value);
  base64 never contains any other character JSON would escape, so the JSON
  text is assembled directly.

Decoding is strict because a server feeds it hostile input:

* canonical standard base64 only (alphabet ``A-Za-z0-9+/``, ``=`` padding, no
  whitespace, unused bits zero) for signMsg, iv and value;
* the JSON must be one object with exactly the string fields ``iv``, ``value``
  and ``mac`` (plus a Laravel-style empty ``"tag": ""``), no duplicate keys;
* the MAC is compared in constant time before anything is decrypted or
  unserialized; then the IV length, block alignment and PKCS7 padding are
  checked and :func:`phpserial.loads` parses only the safe subset;
* every failure raises :class:`SignatureError` whose reason never contains the
  secret (it is built from fixed text and offsets only).

Keys: the AES key and the keyed HMAC live in a :class:`~.secret.Secret`; pass
one (the client holds one for its lifetime) to derive them once, or pass the
raw ``str``/``bytes`` and they are derived for that call only.  Nothing is
cached at module level.  AES-256-CBC is ``cryptography``'s own CBC mode, one
cipher context per message.  Speed (see ``bench/bench_codec.py``): a
well-formed JSON wrapper is recognised with one regular expression instead of
``json.loads``.
"""

from __future__ import annotations

import binascii
import hmac
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from . import phpserial
from .secret import Secret

__all__ = ["SignatureError", "encode_sign_msg", "decode_sign_msg", "MAX_SIGN_MSG_LENGTH"]

#: Longest signMsg the decoder looks at (characters); a real one is ~1 KB.
MAX_SIGN_MSG_LENGTH = 4 * 1024 * 1024


class SignatureError(ValueError):
    """A signMsg that cannot be produced or accepted; ``reason`` is safe to log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------
# Keys and AES-256-CBC with PKCS7


def _keys(secret: Secret | str | bytes) -> Secret:
    if isinstance(secret, Secret):
        return secret
    try:
        return Secret(secret)
    except (TypeError, ValueError) as exc:
        reason = str(exc)  # fixed text only, never the secret
    raise SignatureError(reason)


_PADS = [bytes((n,)) * n for n in range(17)]


def _cbc_encrypt(keys: Secret, iv: bytes, plain: bytes) -> bytes:
    enc = keys.cbc(iv).encryptor()
    return enc.update(plain) + enc.finalize()


def _cbc_decrypt(keys: Secret, iv: bytes, data: bytes) -> bytes:
    dec = keys.cbc(iv).decryptor()
    return dec.update(data) + dec.finalize()


# --------------------------------------------------------------------------
# Encoding


def encode_sign_msg(params: Mapping[str, Any], secret: Secret | str | bytes, *, iv: bytes | None = None) -> str:
    """Serialize, encrypt and sign ``params``; a fresh random IV unless one is given."""
    if not isinstance(params, Mapping):
        raise SignatureError("params must be a mapping")
    keys = _keys(secret)
    if iv is None:
        iv = os.urandom(16)
    elif not isinstance(iv, (bytes, bytearray)) or len(iv) != 16:
        raise SignatureError("the IV must be 16 bytes")
    else:
        iv = bytes(iv)
    try:
        plain = phpserial.dumps(params)
    except phpserial.PhpSerializeError as exc:
        raise SignatureError(f"cannot serialize params: {exc}") from None
    plain += _PADS[16 - len(plain) % 16]
    value = binascii.b2a_base64(_cbc_encrypt(keys, iv, plain), newline=False)
    iv_b64 = binascii.b2a_base64(iv, newline=False)
    mac = keys.mac()
    mac.update(iv_b64)
    mac.update(value)
    doc = b'{"iv":"%s","value":"%s","mac":"%s"}' % (
        iv_b64.replace(b"/", b"\\/"),
        value.replace(b"/", b"\\/"),
        mac.hexdigest().encode("ascii"),
    )
    return binascii.b2a_base64(doc, newline=False).decode("ascii")


# --------------------------------------------------------------------------
# Decoding

# Last character before "=" / "==" must leave the unused low bits zero.
_B64_BEFORE_1 = frozenset(b"AEIMQUYcgkosw048")
_B64_BEFORE_2 = frozenset(b"AQgw")


def _b64decode(data: bytes, what: str) -> bytes:
    """Canonical standard base64 only (strict alphabet, padding, zero unused bits)."""
    try:
        out = binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError(f"{what} is not valid base64") from None
    if data[-1:] == b"=":
        if data[-2:] == b"==":
            if data[-3] not in _B64_BEFORE_2:
                raise SignatureError(f"{what} is not canonical base64")
        elif data[-2] not in _B64_BEFORE_1:
            raise SignatureError(f"{what} is not canonical base64")
    return out


# The wrapper exactly as json_encode writes it (optionally Laravel's empty
# tag).  Anything else (whitespace, other escapes, field order) goes through
# the strict json path, which accepts the same documents and more layouts.
_DOC = re.compile(
    rb'\{"iv":"([A-Za-z0-9+/=\\]{1,64})","value":"([A-Za-z0-9+/=\\]+)",'
    rb'"mac":"([0-9a-f]{64})"(?:,"tag":"")?\}'
)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise ValueError("duplicate key")
    return doc


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _fields_from_json(raw: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        doc = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise SignatureError("signMsg does not hold a JSON object") from None
    if not isinstance(doc, dict):
        raise SignatureError("signMsg does not hold a JSON object")
    iv_b64, value, mac = doc.get("iv"), doc.get("value"), doc.get("mac")
    if not (isinstance(iv_b64, str) and isinstance(value, str) and isinstance(mac, str)):
        raise SignatureError("signMsg JSON needs string fields iv, value and mac")
    extra = doc.keys() - {"iv", "value", "mac"}
    if extra:
        if extra != {"tag"}:
            raise SignatureError("signMsg JSON has fields other than iv, value, mac and tag")
        if doc["tag"] != "":
            raise SignatureError("signMsg carries an AEAD tag this cipher does not use")
    try:
        return iv_b64.encode("ascii"), value.encode("ascii"), mac.encode("ascii")
    except UnicodeEncodeError:
        raise SignatureError("signMsg JSON fields iv, value and mac must be ASCII") from None


def decode_sign_msg(sign_msg: str | bytes, secret: Secret | str | bytes) -> dict[str, Any]:
    """Verify and decrypt a signMsg back to its parameter map."""
    keys = _keys(secret)
    if isinstance(sign_msg, str):
        if len(sign_msg) > MAX_SIGN_MSG_LENGTH:
            raise SignatureError("signMsg is too long")
        if not sign_msg.isascii():
            raise SignatureError("signMsg is not valid base64")
        sign_msg = sign_msg.encode("ascii")
    elif isinstance(sign_msg, (bytes, bytearray)):
        sign_msg = bytes(sign_msg)
    else:
        raise SignatureError("signMsg must be a string")
    if not sign_msg:
        raise SignatureError("signMsg is empty")
    if len(sign_msg) > MAX_SIGN_MSG_LENGTH:
        raise SignatureError("signMsg is too long")
    raw = _b64decode(sign_msg, "signMsg")

    m = _DOC.fullmatch(raw)
    if m is not None:
        iv_b64 = m.group(1).replace(b"\\/", b"/")
        value = m.group(2).replace(b"\\/", b"/")
        mac_given = m.group(3)
        if b"\\" in iv_b64 or b"\\" in value:  # some other JSON escape: let json decide
            iv_b64, value, mac_given = _fields_from_json(raw)
    else:
        iv_b64, value, mac_given = _fields_from_json(raw)

    # Authenticate first: nothing below runs on bytes the secret did not sign.
    mac = keys.mac()
    mac.update(iv_b64)
    mac.update(value)
    if not hmac.compare_digest(mac.hexdigest().encode("ascii"), mac_given):
        raise SignatureError("mac does not match")

    iv = _b64decode(iv_b64, "iv")
    if len(iv) != 16:
        raise SignatureError("iv is not 16 bytes")
    data = _b64decode(value, "value")
    if not data or len(data) % 16:
        raise SignatureError("ciphertext length is not a multiple of the block size")
    plain = _cbc_decrypt(keys, iv, data)
    pad = plain[-1]
    if not 1 <= pad <= 16 or not plain.endswith(_PADS[pad]):
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
