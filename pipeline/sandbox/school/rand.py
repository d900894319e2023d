"""Seeded randomness of the school.

Every draw comes either from a ``random.Random("<seed>:<kind>:<key>")`` (string
seeding is stable across processes; Python's ``hash()`` is never used) or, for
cheap per-lesson coin flips, from a splitmix64 integer hash of ``(seed, kind,
key)`` (:func:`unit`).  The primitives below turn such draws into Poisson
counts, sessions broken by drop-outs and distinct event seconds.
"""

from __future__ import annotations

import math
import random

_M64 = (1 << 64) - 1

#: Kinds of :func:`hash64` draws (one per use, so two uses never share a draw).
K_EXPIRED, K_GENRE, K_CW, K_REPLAY = 1, 2, 3, 4
K_HOLIDAY, K_COHORT, K_APPETITE = 5, 6, 7
K_LATE = 8


def mix(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def hash64(*parts: int) -> int:
    """A 64-bit hash of the integers ``parts``."""
    h = 0x5EED5C4001
    for p in parts:
        h = mix(h ^ (p & _M64))
    return h


def unit(*parts: int) -> float:
    """A uniform draw in [0, 1) from the integers ``parts``."""
    return hash64(*parts) / 18446744073709551616.0


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson(``lam``) count (Knuth's method)."""
    if lam <= 0.0:
        return 0
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def split_sessions(rng: random.Random, a: int, b: int, k: int) -> list[tuple[int, int]]:
    """Presence ``[a, b)`` broken by up to ``k`` drop-outs of 10–240 s into sessions."""
    if k <= 0 or b - a < 420:
        return [(a, b)]
    lo, hi = a + 60, b - 180
    k = min(k, (hi - lo) // 120)
    if k <= 0:
        return [(a, b)]
    cuts = sorted(rng.sample(range(lo, hi), k))
    out: list[tuple[int, int]] = []
    cur = a
    for i, c in enumerate(cuts):
        nxt = cuts[i + 1] if i + 1 < k else b - 60
        if c <= cur:
            continue
        resume = min(c + rng.randint(10, 240), nxt - 30)
        if resume <= c:
            continue
        out.append((cur, c))
        cur = resume
    out.append((cur, b))
    return out


def pick_seconds(rng: random.Random, ivs: list[tuple[int, int]], total: int, k: int) -> list[tuple[int, int]]:
    """``k`` distinct seconds inside the half-open intervals, sorted, each with its interval's end."""
    if k <= 0 or total <= 0:
        return []
    k = min(k, total)
    ps = sorted(rng.sample(range(total), k)) if k > 1 else [rng.randrange(total)]
    out = []
    j = 0
    base = 0
    a, b = ivs[0]
    for p in ps:
        while p >= base + (b - a):
            base += b - a
            j += 1
            a, b = ivs[j]
        out.append((a + p - base, b))
    return out

