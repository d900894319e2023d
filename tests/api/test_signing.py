"""signMsg codec: byte-identical to PHP's getSignMsg, strict and safe decoding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
import traceback
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pipeline.api import phpserial, signing
from pipeline.api.secret import Secret
from pipeline.api.signing import SignatureError, decode_sign_msg, encode_sign_msg
from tests.api.phpvalues import from_typed

SECRET = "32bf27979cf0dba95d80f500f553ed53"  # the document's example secret
VECTORS = json.loads((Path(__file__).parents[1] / "fixtures" / "php_sign_vectors.json").read_text("utf-8"))

# Section 1.5.4 of the API document (zero IV).
DOC_SIGN_MSG = (
    "eyJpdiI6IkFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9PSIsInZhbHVlIjoiSUc0eFRlcTBhbnN1TTFUWHJEdGl2bDFQcW03R2p4S2c2MUYy"
    "RjlkNFhWaTVqWDFrQ2dJM2FMMzVXc0JkK3lLMEpEQ3YzOXZBU2FsRlwvZHdleWJ3UzhBPT0iLCJtYWMiOiIxNTFhNjE2YTRkZjQ0ZDQw"
    "YjU4YWVhMDI1M2IzNTE0MDcyNWZhOTc0MmI0ZTMyY2IzNjU1NTZhM2IwODMwYTNlIn0="
)


def top(v):
    return dict(enumerate(v)) if isinstance(v, list) else v


# --------------------------------------------------------------------------
# An independent signer, to forge documents the decoder must judge


def aes_key(secret: bytes) -> bytes:
    return secret[:32].ljust(32, b"\0")


def forge(
    plain: bytes,
    secret: str | bytes = SECRET,
    *,
    iv: bytes = b"\x42" * 16,
    pad: bool = True,
    mac_secret: str | bytes | None = None,
    iv_b64: str | None = None,
    value: str | None = None,
    fields: dict | None = None,
    raw_json: bytes | None = None,
) -> str:
    """signMsg over arbitrary plaintext, with a valid MAC unless told otherwise."""
    sb = secret.encode() if isinstance(secret, str) else secret
    if pad:
        n = 16 - len(plain) % 16
        plain += bytes([n]) * n
    if value is None:
        enc = Cipher(algorithms.AES(aes_key(sb)), modes.CBC(iv)).encryptor()
        value = base64.b64encode(enc.update(plain) + enc.finalize()).decode()
    if iv_b64 is None:
        iv_b64 = base64.b64encode(iv).decode()
    ms = mac_secret if mac_secret is not None else secret
    ms = ms.encode() if isinstance(ms, str) else ms
    mac = hmac.new(ms, (iv_b64 + value).encode(), hashlib.sha256).hexdigest()
    doc = {"iv": iv_b64, "value": value, "mac": mac}
    if fields is not None:
        doc.update(fields)
    if raw_json is None:
        raw_json = json.dumps(doc, separators=(",", ":")).replace("/", "\\/").encode()
    return base64.b64encode(raw_json).decode()


def reason_of(sign_msg, secret=SECRET) -> str:
    with pytest.raises(SignatureError) as info:
        decode_sign_msg(sign_msg, secret)
    exc = info.value
    assert exc.reason == str(exc)
    assert_secret_not_leaked(exc, secret)
    return exc.reason


def assert_secret_not_leaked(exc: BaseException, secret) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args)
    for s in {secret, SECRET}:
        s = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
        assert s not in text
        assert s[:16] not in text  # not even the AES-key half


# --------------------------------------------------------------------------
# Byte-identical to PHP


def test_document_worked_example():
    params = {"lessonId": 10384374, "diskId": 356}
    assert encode_sign_msg(params, SECRET, iv=bytes(16)) == DOC_SIGN_MSG
    assert decode_sign_msg(DOC_SIGN_MSG, SECRET) == params


@pytest.mark.parametrize("case", VECTORS["sign"], ids=lambda c: f"{c['name']}/{c['iv_hex'][:4]}")
def test_php_vectors(case):
    params = top(from_typed(case["params"]))
    iv = bytes.fromhex(case["iv_hex"])
    assert encode_sign_msg(params, case["secret"], iv=iv) == case["sign_msg"]
    assert encode_sign_msg(params, case["secret"].encode(), iv=bytearray(iv)) == case["sign_msg"]
    assert decode_sign_msg(case["sign_msg"], case["secret"]) == params
    assert decode_sign_msg(case["sign_msg"].encode(), case["secret"].encode()) == params


def test_vectors_cover_slashes_in_iv_and_value():
    raws = [json.loads(base64.b64decode(c["sign_msg"])) for c in VECTORS["sign"]]
    assert any("/" in r["iv"] for r in raws) and any("/" in r["value"] for r in raws)
    assert all("\\/" not in base64.b64decode(c["sign_msg"]).decode().replace("\\/", "") for c in VECTORS["sign"])


def test_random_iv_round_trip():
    params = {"lesson_id": list(range(10001, 10101)), "name": "张一", "studentId": "[1234,3456]"}
    a, b = encode_sign_msg(params, SECRET), encode_sign_msg(params, SECRET)
    assert a != b
    assert decode_sign_msg(a, SECRET) == decode_sign_msg(b, SECRET) == params


@pytest.mark.parametrize("n", range(0, 50))
def test_cbc_is_the_library_s_and_a_held_secret_signs_the_same(n):
    held = Secret(SECRET)
    iv = os.urandom(16)
    params = {"k": "x" * n}
    plain = phpserial.dumps(params) + signing._PADS[16 - len(phpserial.dumps(params)) % 16]
    enc = Cipher(algorithms.AES(aes_key(SECRET.encode())), modes.CBC(iv)).encryptor()
    value = json.loads(base64.b64decode(encode_sign_msg(params, held, iv=iv)))["value"]
    assert base64.b64decode(value) == enc.update(plain) + enc.finalize()
    assert encode_sign_msg(params, held, iv=iv) == encode_sign_msg(params, SECRET, iv=iv)
    assert decode_sign_msg(encode_sign_msg(params, SECRET), held) == params


def test_threads_do_not_share_cipher_state():
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(300):
                params = {"t": seed, "i": i, "pad": "x" * (i % 40), "ids": list(range(i % 30))}
                secret = SECRET if i % 2 else "other-secret"
                assert decode_sign_msg(encode_sign_msg(params, secret), secret) == params
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_no_module_level_state_keeps_a_secret():
    secrets = [f"secret-{k}" for k in range(20)]
    for k, secret in enumerate(secrets):
        assert decode_sign_msg(encode_sign_msg({"k": k}, secret), secret.encode()) == {"k": k}
    for name, value in vars(signing).items():
        if isinstance(value, (dict, list, set, tuple)) and not name.startswith("__"):
            text = repr(value)
            assert not any(s in text for s in secrets), name


def test_held_secret_hides_itself():
    import copy
    import pickle

    held = Secret(SECRET)
    assert SECRET not in repr(held) + str(held) + repr([held])
    for dump in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            dump(held)


# --------------------------------------------------------------------------
# Accepted variations of the JSON wrapper


def test_laravel_empty_tag_is_accepted():
    assert decode_sign_msg(forge(b"a:1:{s:1:\"k\";i:1;}", fields={"tag": ""}), SECRET) == {"k": 1}


def test_other_valid_json_layouts_are_accepted():
    plain = b'a:1:{s:1:"k";i:1;}'
    msg = forge(plain)
    doc = json.loads(base64.b64decode(msg))
    for raw in (
        json.dumps(doc).encode(),  # spaces, unescaped slashes
        json.dumps({"mac": doc["mac"], "value": doc["value"], "iv": doc["iv"]}).encode(),  # order
        json.dumps(doc, ensure_ascii=True).replace("A", "\\u0041").encode(),  # \u escapes
        b"\n " + json.dumps(doc, indent=2).encode() + b"\n",
    ):
        assert decode_sign_msg(base64.b64encode(raw), SECRET) == {"k": 1}


# --------------------------------------------------------------------------
# Refused inputs: each gives a SignatureError with a safe reason


GOOD = forge(b'a:1:{s:1:"k";i:1;}')


@pytest.mark.parametrize(
    "sign_msg, why",
    [
        ("", "empty"),
        (b"", "empty"),
        ("!!!!", "not valid base64"),
        (DOC_SIGN_MSG[:-1], "not valid base64"),  # padding cut
        (GOOD[:-1], "base64"),
        (GOOD[:20] + "\n" + GOOD[20:], "not valid base64"),
        (GOOD[:20] + " " + GOOD[20:], "not valid base64"),
        (GOOD + "\n", "not valid base64"),
        (GOOD + "=", "base64"),
        (GOOD + "AAAA", "does not hold a JSON object"),
        ("=" + GOOD, "not valid base64"),
        (base64.urlsafe_b64encode(b"\xfb\xff" * 9).decode(), "not valid base64"),
        ("QR==", "not canonical base64"),  # unused bits set
        ("QUJ=", "not canonical base64"),
        ("TWFu\u00e9", "not valid base64"),
        ("张一", "not valid base64"),
        (12345, "must be a string"),
        (None, "must be a string"),
        ("A" * (signing.MAX_SIGN_MSG_LENGTH + 4), "too long"),
    ],
    ids=lambda x: repr(x)[:30],
)
def test_refuses_bad_base64(sign_msg, why):
    assert re.search(why, reason_of(sign_msg))


def b64(x: bytes | str) -> str:
    return base64.b64encode(x.encode() if isinstance(x, str) else x).decode()


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"not json", "does not hold a JSON object"),
        (b"[1,2,3]", "does not hold a JSON object"),
        (b'"iv"', "does not hold a JSON object"),
        (b"{}", "string fields iv, value and mac"),
        (b'{"iv":"AAAAAAAAAAAAAAAAAAAAAA==","value":"AAAA"}', "string fields"),
        (b'{"iv":1,"value":"AAAA","mac":"00"}', "string fields"),
        (b'{"iv":"AAAAAAAAAAAAAAAAAAAAAA==","value":["AAAA"],"mac":"00"}', "string fields"),
        (b'{"iv":"AAAAAAAAAAAAAAAAAAAAAA==","value":"AAAA","mac":null}', "string fields"),
        (b'{"iv":"A","value":"B","mac":"C","x":1}', "fields other than"),
        (b'{"iv":"A","value":"B","mac":"C","tag":"abc"}', "AEAD tag"),
        (b'{"iv":"A","value":"B","mac":"C","tag":null}', "AEAD tag"),
        (b'{"iv":"A","value":"B","mac":"C","mac":"D"}', "does not hold a JSON object"),  # duplicate key
        (b'{"iv":"A","value":"B","mac":NaN}', "does not hold a JSON object"),
        (b'{"iv":"\xff","value":"B","mac":"C"}', "does not hold a JSON object"),  # not UTF-8
        ('{"iv":"A","value":"B","mac":"C"}'.encode("utf-16"), "does not hold a JSON object"),
        (b'{"iv":"\\u00e9","value":"B","mac":"C"}', "must be ASCII"),
        (b'{"iv":"\\ud800","value":"B","mac":"C"}', "must be ASCII"),
        (b"[" * 100_000, "does not hold a JSON object"),
    ],
    ids=lambda x: repr(x)[:40],
)
def test_refuses_bad_json(raw, why):
    assert why in reason_of(b64(raw))


def test_mac_is_checked_first():
    plain = b'a:1:{s:1:"k";i:1;}'
    msg = json.loads(base64.b64decode(forge(plain)))
    wrong = [
        forge(plain, mac_secret="another secret"),  # signed with another secret
        forge(plain, mac_secret=SECRET[:-1]),
        forge(plain, mac_secret=SECRET + "x"),  # the HMAC uses the whole secret
        b64(json.dumps({**msg, "mac": msg["mac"].upper()})),
        b64(json.dumps({**msg, "mac": msg["mac"][:-2]})),
        b64(json.dumps({**msg, "mac": ""})),
        b64(json.dumps({**msg, "mac": msg["mac"] + "00"})),
        b64(json.dumps({**msg, "iv": base64.b64encode(bytes(16)).decode()})),
        b64(json.dumps({**msg, "value": msg["value"][4:]})),
    ]
    for m in wrong:
        assert reason_of(m) == "mac does not match"
    assert "must be ASCII" in reason_of(b64(json.dumps({**msg, "mac": "é" * 64})))
    assert reason_of(forge(plain), "another secret") == "mac does not match"
    assert reason_of(forge(plain), SECRET + "x") == "mac does not match"


def test_nothing_is_decrypted_or_unserialized_before_the_mac(monkeypatch):
    calls = []
    monkeypatch.setattr(signing, "_cbc_decrypt", lambda *a: calls.append("decrypt"))
    monkeypatch.setattr(phpserial, "loads", lambda *a, **k: calls.append("loads"))
    for m in (
        forge(b'O:8:"stdClass":0:{}', mac_secret="not the secret"),
        forge(b"", value="AAAA", iv_b64="!!", mac_secret="x"),
    ):
        assert reason_of(m) == "mac does not match"
    assert calls == []


def test_php_object_under_a_valid_mac_is_refused():
    for payload in (
        b'O:8:"stdClass":0:{}',
        b'a:1:{s:1:"x";O:8:"stdClass":1:{s:1:"a";i:1;}}',
        b'C:11:"ArrayObject":21:{x:i:0;a:0:{};m:a:0:{}}',
        b'a:2:{i:0;a:0:{}i:1;r:2;}',
        b'a:2:{i:0;a:0:{}i:1;R:2;}',
        b'E:7:"Foo:Bar";',
    ):
        reason = reason_of(forge(payload))
        assert reason.startswith("cannot unserialize params: refused PHP type"), reason


@pytest.mark.parametrize(
    "payload, why",
    [
        (b"b:2;", "boolean must be 0 or 1"),
        (b'a:1:{s:1:"k";b:2;}', "boolean must be 0 or 1"),
        (b'a:1:{s:1:"k";i:1;}garbage', "trailing bytes"),
        (b'a:1:{s:1:"k";s:4294967296:"x";}', "declared string length out of bounds"),
        (b'a:1:{s:1:"k";s:1000000:"x";}', "string length does not match"),
        (b"a:4294967295:{}", "declared array size out of bounds"),
        (b"a:1:{i:0;" * 40 + b"N;" + b"}" * 40, "nested too deeply"),
        (b'a:1:{s:1:"k";s:2:"\xff\xfe";}', "not valid UTF-8"),
        (b'a:1:{s:2:"\xc3\x28";i:1;}', "not valid UTF-8"),
        (b"a:2:{i:0;i:1;i:0;i:2;}", "duplicate array key"),
        (b"i:9223372036854775808;", "64-bit"),
        (b's:3:"abc";', "params are not a PHP array"),
        (b"i:1;", "params are not a PHP array"),
        (b"N;", "params are not a PHP array"),
        (b"", "unexpected end of input"),
    ],
    ids=lambda x: repr(x)[:40],
)
def test_refuses_bad_payload_under_a_valid_mac(payload, why):
    assert why in reason_of(forge(payload))


def test_top_level_php_list_decodes_to_an_int_keyed_map():
    assert decode_sign_msg(forge(b"a:2:{i:0;s:1:\"a\";i:1;i:2;}"), SECRET) == {0: "a", 1: 2}
    assert decode_sign_msg(forge(b"a:0:{}"), SECRET) == {}


@pytest.mark.parametrize(
    "plain",
    [
        b'a:0:{}' + b"\x00" * 10,  # pad byte 0
        b'a:0:{}' + b"\x11" * 10,  # 17 > block size
        b"a:0:{}" + b"\x05" * 5 + b"\x05\x05\x04\x05\x05",  # inconsistent
        b"a:0:{}\x03\x03\x03\x03\x03\x03\x03\x03\x03\x02",
        b"\x20" * 32,  # 32 is > 16
    ],
)
def test_bad_padding_under_a_valid_mac(plain):
    assert len(plain) % 16 == 0
    assert reason_of(forge(plain, pad=False)) == "bad PKCS7 padding"


def test_bad_iv_and_ciphertext_under_a_valid_mac():
    plain = b"a:0:{}"
    assert reason_of(forge(plain, iv_b64=b64(bytes(15)))) == "iv is not 16 bytes"
    assert reason_of(forge(plain, iv_b64=b64(bytes(17)))) == "iv is not 16 bytes"
    assert reason_of(forge(plain, iv_b64="AAAA AAAAAAAAAAAAAAAAAA==")) == "iv is not valid base64"
    assert reason_of(forge(plain, iv_b64="AAAAAAAAAAAAAAAAAAAAAB==")) == "iv is not canonical base64"
    assert reason_of(forge(plain, value="")) == "ciphertext length is not a multiple of the block size"
    assert reason_of(forge(plain, value=b64(bytes(15)))) == "ciphertext length is not a multiple of the block size"
    assert reason_of(forge(plain, value="AAAA-_AA")) == "value is not valid base64"
    assert reason_of(forge(plain, value=b64(bytes(16)) + "\n")) == "value is not valid base64"


@pytest.mark.parametrize(
    "secret, why",
    [("", "the secret is empty"), (b"", "the secret is empty"), (None, "str or bytes"), (123, "str or bytes"),
     ("\ud800", "not encodable")],
)
def test_refuses_bad_secrets(secret, why):
    with pytest.raises(SignatureError, match=why):
        encode_sign_msg({"a": 1}, secret)
    with pytest.raises(SignatureError, match=why):
        decode_sign_msg(DOC_SIGN_MSG, secret)


@pytest.mark.parametrize(
    "params, iv, why",
    [
        ([1, 2], None, "params must be a mapping"),
        ("a:0:{}", None, "params must be a mapping"),
        ({"a": 1}, bytes(15), "the IV must be 16 bytes"),
        ({"a": 1}, "0" * 16, "the IV must be 16 bytes"),
        ({"a": 2**63}, None, "cannot serialize params: integer out of PHP's 64-bit range"),
        ({"a": object()}, None, "cannot serialize params"),
        ({"a": "\udc80"}, None, "surrogate"),
        ({"5": 1, 5: 2}, None, "same PHP array key"),
    ],
)
def test_encode_refuses(params, iv, why):
    with pytest.raises(SignatureError, match=why) as info:
        encode_sign_msg(params, SECRET, iv=iv)
    assert_secret_not_leaked(info.value, SECRET)


def test_secret_never_in_any_error_text():
    """Every decoder failure, under secrets that look like the data they guard."""
    for secret in (SECRET, "AAAAAAAAAAAAAAAAAAAAAA==", "a:1:{s:1:", "张一密钥-0123456789abcdef"):
        valid = forge(b'a:1:{s:1:"k";i:1;}', secret)
        doc = json.loads(base64.b64decode(valid))
        for bad in (
            valid[:-4],
            forge(b"b:2;", secret),
            forge(b'O:8:"stdClass":0:{}', secret),
            forge(b"a:0:{}" + b"\x00" * 10, secret, pad=False),
            b64(json.dumps({**doc, "extra": secret})),
            b64(json.dumps({**doc, "tag": secret})),
            b64(json.dumps({**doc, "mac": secret})),
            b64(json.dumps({**doc, "iv": secret})),
        ):
            with pytest.raises(SignatureError) as info:
                decode_sign_msg(bad, secret)
            assert_secret_not_leaked(info.value, secret)
