"""The openAPI client: signing, transport, retries, rate limiting and typed endpoints."""

from .client import ClientStats, LiveClassClient
from .endpoints import ENDPOINTS, Endpoint
from .errors import (
    ApiError,
    AuthError,
    PaginationError,
    ParameterError,
    OutcomeUnknown,
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
