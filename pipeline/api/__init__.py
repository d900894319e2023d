"""The openAPI client: signing, transport, retries, rate limiting and typed endpoints.

    catalog      the endpoints (API number, path, method, write?), once
    secret       the secret holder (hidden from repr, refuses pickling) and its derived keys
    signing      the signMsg codec, byte-identical to the document's PHP
    classify     what one HTTP answer means (pure)
    retry        the retry policy: attempts, one deadline, backoff, the rule for writes
    transport    one HTTP POST inside the deadline and the body-size limit
    ratelimit    GCRA buckets for threads and for processes
    concurrency  map_concurrent
    stats        ClientStats
    client       LiveClassClient, composing them; endpoints: its typed methods
"""

from .catalog import ENDPOINTS, Endpoint
from .client import ClientStats, LiveClassClient
from .errors import (
    ApiError,
    AuthError,
    OutcomeUnknown,
    PaginationError,
    ParameterError,
    RetriesExhausted,
    RoutingError,
    TransientError,
    error_for_code,
)
from .ratelimit import FileBucket, TokenBucket
from .signing import SignatureError, decode_sign_msg, encode_sign_msg

__all__ = [
    "LiveClassClient", "ClientStats", "ENDPOINTS", "Endpoint",
    "ApiError", "AuthError", "RoutingError", "ParameterError", "TransientError", "RetriesExhausted", "OutcomeUnknown",
    "PaginationError", "error_for_code",
    "TokenBucket", "FileBucket",
    "SignatureError", "encode_sign_msg", "decode_sign_msg",
]
