"""Raw layer of the roster: the roster's mobiles resolved to platform user ids by API 20 (``raw/roster``).

The cache ``raw/roster/user_ids.json`` (:meth:`DataDir.roster_user_ids`) maps each mobile of the
current roster to ``{"uid", "role", "resolved_at"}`` (``uid`` null: API 20 does not know it; ``roles``
as well when API 20 answered one mobile with several roles).  It is the one file past the roster
folder that holds mobiles, written atomically (a private temp file renamed into place, mode 0600).

Only what the cache cannot answer is asked: a mobile not in it, a known one resolved more than
``max_age_days`` (30) ago (so a mobile that moved to another user is seen), an unknown one asked more
than ``unknown_max_age_days`` (1) ago (so a user registered since is found).  Mobiles no longer in the
roster are dropped from the cache; without a roster the cache is removed and nothing is asked.

Bad roster input never fails the asset (it is reported by ``lake/roster``); an API that still fails
after the client's retries does, with a message that shows no mobile.
"""

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Failure, MaterializeResult, MetadataValue, asset

from pipeline.api.catalog import PATHS
from pipeline.api.errors import ApiError
from pipeline.core import calendar
from pipeline.core.files import atomic_write_bytes
from pipeline.core.layout import DataDir
from pipeline.core.roster import Roster, mask_digits, normalize_mobile, read_roster

from ..resources import DataDirResource, LiveClassApiResource

ROSTER = "roster"
RAW_ROSTER_KEY = AssetKey(["raw", ROSTER])
API20 = PATHS["get_user_ids"]

#: API 20's ``role`` -> the roster file it belongs in.  The document leaves ``role`` undescribed (its
#: example shows 2 and 3); the sandbox answers 2 teacher, 3 student; API 1's userType 1 is a student.
ROLE_KIND: dict[int, str] = {1: "students", 2: "teachers", 3: "students"}

MAX_AGE_DAYS = 30
UNKNOWN_MAX_AGE_DAYS = 1
#: Mobiles asked before the cache is saved (a failure later keeps what was resolved so far).
SAVE_EVERY = 1000


class RosterResolveError(RuntimeError):
    """API 20 failed after the client's retries; the text names no mobile."""


# -- the cache ----------------------------------------------------------------------------------------

def read_user_ids(path: Path) -> dict[str, dict[str, Any]]:
    """The cache (mobile -> entry); a missing or damaged file is an empty cache (everything is asked again)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for mobile, entry in data.items():
        if (isinstance(entry, dict) and normalize_mobile(mobile) == mobile and "resolved_at" in entry
                and (entry.get("uid") is None or type(entry.get("uid")) is int)):
            out[mobile] = entry
    return out


def write_user_ids(path: Path, cache: Mapping[str, Mapping[str, Any]]) -> None:
    text = json.dumps(dict(sorted(cache.items())), ensure_ascii=False, indent=1, sort_keys=True)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def _parse_time(text: Any) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=calendar.TZ)


def pending_mobiles(mobiles: Sequence[str], cache: Mapping[str, Mapping[str, Any]], *, now: datetime,
                    max_age_days: float = MAX_AGE_DAYS, unknown_max_age_days: float = UNKNOWN_MAX_AGE_DAYS) -> list[str]:
    """The mobiles API 20 must be asked about: not in the cache, or their entry too old."""
    out = []
    for m in mobiles:
        entry = cache.get(m)
        at = _parse_time(entry.get("resolved_at")) if entry else None
        if at is None or at > now + timedelta(days=1):
            out.append(m)
            continue
        age = max_age_days if entry.get("uid") is not None else unknown_max_age_days
        if now - at >= timedelta(days=age):
            out.append(m)
    return out


# -- resolving ----------------------------------------------------------------------------------------

@dataclass
class Resolution:
    """What :func:`resolve_user_ids` did; ``cache`` is the cache as written (the roster's mobiles only)."""

    found: bool
    cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    mobiles: int = 0       # distinct mobiles in the roster
    asked: int = 0         # of which API 20 was asked this time
    api_calls: int = 0
    known: int = 0         # mobiles the cache now resolves to a user
    unknown: int = 0       # mobiles API 20 does not know
    unusable: int = 0      # answers without a usable uid (not cached: asked again next time)
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        return {"roster": "found" if self.found else "no roster", "mobiles": self.mobiles, "asked": self.asked,
                "cached": self.mobiles - self.asked, "api_calls": self.api_calls, "known": self.known,
                "unknown": self.unknown, "unusable_answers": self.unusable}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _entries(answers: list, asked: set[str], at: str) -> tuple[dict[str, dict[str, Any]], int]:
    """API 20's items -> mobile -> entry (the first uid answered for a mobile; every role it came with)."""
    by_mobile: dict[str, dict[str, Any]] = {}
    unusable = 0
    for item in answers:
        if not isinstance(item, Mapping):
            unusable += 1
            continue
        mobile, uid = normalize_mobile(item.get("mobile")), _int(item.get("uid"))
        if mobile not in asked:
            continue
        if uid is None:
            unusable += 1
            continue
        role = _int(item.get("role"))
        entry = by_mobile.setdefault(mobile, {"uid": uid, "role": role, "resolved_at": at})
        if entry["uid"] == uid and role is not None and role != entry["role"]:
            roles = entry.setdefault("roles", [entry["role"]])
            if role not in roles:
                roles.append(role)
    return by_mobile, unusable


def _api_calls(client) -> int:
    stats = getattr(client, "stats", None)
    return int(stats.snapshot()["calls_by_path"].get(API20, 0)) if stats is not None else 0


def resolve_user_ids(client, data_dir: DataDir, roster: Roster, *, max_age_days: float = MAX_AGE_DAYS,
                     unknown_max_age_days: float = UNKNOWN_MAX_AGE_DAYS, now: datetime | None = None) -> Resolution:
    """Bring the cache up to date for ``roster``, asking API 20 (``client.get_user_ids``, 100 mobiles a call)
    only what the cache cannot answer.  ``client`` may be None when nothing needs asking (no roster, or
    every mobile cached and fresh).  Raises :class:`RosterResolveError` (no mobile in its text) when the
    API fails after retries; what was resolved before that is kept."""
    t0 = time.monotonic()
    path = data_dir.roster_user_ids()
    if not roster.found:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # no roster: no mobiles kept either
        return Resolution(found=False)
    now = now or calendar.now()
    mobiles = roster.mobiles()
    before = read_user_ids(path)
    cache = {m: before[m] for m in mobiles if m in before}
    ask = pending_mobiles(mobiles, cache, now=now, max_age_days=max_age_days,
                          unknown_max_age_days=unknown_max_age_days)
    res = Resolution(found=True, mobiles=len(mobiles), asked=len(ask))
    if ask and client is None:
        raise ValueError(f"{len(ask)} roster mobiles need API 20 but no client was given")
    calls_before = _api_calls(client) if ask else 0
    failure = None
    for start in range(0, len(ask), SAVE_EVERY):
        chunk = ask[start:start + SAVE_EVERY]
        at = now.isoformat(timespec="seconds")
        try:
            answers = client.get_user_ids([int(m) for m in chunk])
        except ApiError as exc:  # after the client's retries: the platform is down or refuses us
            failure = (f"API 20 ({API20}) failed resolving {len(chunk)} roster mobiles "
                       f"({start} of {len(ask)} resolved before): {mask_digits(str(exc))}")
            break
        entries, unusable = _entries(answers, set(chunk), at)
        res.unusable += unusable
        for m in chunk:
            if m in entries:
                cache[m] = entries[m]
            elif unusable:  # an answer we could not read may have been this mobile's: ask again next time
                cache.pop(m, None)
            else:
                cache[m] = {"uid": None, "role": None, "resolved_at": at}
        if len(ask) > SAVE_EVERY:
            write_user_ids(path, cache)
    res.api_calls = _api_calls(client) - calls_before if ask else 0
    if cache != before or not path.exists():
        write_user_ids(path, cache)
    if failure:  # raised outside the except block: no chain back to the unmasked API error
        raise RosterResolveError(failure)
    res.cache = cache
    res.known = sum(1 for e in cache.values() if e.get("uid") is not None)
    res.unknown = sum(1 for e in cache.values() if e.get("uid") is None)
    res.seconds = time.monotonic() - t0
    return res


# -- the asset ----------------------------------------------------------------------------------------

def build_raw_roster(roster_folder: str | Path | None = None, *, group: str = ROSTER, max_age_days: float = MAX_AGE_DAYS
                     ) -> AssetsDefinition:
    """The ``raw/roster`` asset reading ``roster_folder`` (None: the data directory's ``roster/``)."""

    @asset(
        key=RAW_ROSTER_KEY,
        group_name=group,
        kinds={"python", "json"},
        description="API 20: the roster's mobiles resolved to platform user ids (cache raw/roster/user_ids.json; "
                    "only new or stale mobiles are asked). Without roster files: nothing to do, no API call.",
    )
    def raw_roster(context: AssetExecutionContext, api: LiveClassApiResource,
                   data_dir: DataDirResource) -> MaterializeResult:
        dirs = data_dir.dirs
        folder = Path(roster_folder) if roster_folder is not None else dirs.roster_dir
        roster = read_roster(folder)
        now = calendar.now()
        need = roster.found and pending_mobiles(roster.mobiles(), read_user_ids(dirs.roster_user_ids()), now=now,
                                                max_age_days=max_age_days)
        client = api.get_client(rate_limit_file=str(dirs.rate_limit_file), profile=data_dir.profile) if need else None
        try:
            res = resolve_user_ids(client, dirs, roster, max_age_days=max_age_days, now=now)
        except RosterResolveError as exc:
            raise Failure(description=f"{exc}; the previous roster stays in place") from None
        finally:
            if client is not None:
                client.close()
        meta: dict[str, Any] = {k: MetadataValue.int(v) if isinstance(v, int) else MetadataValue.text(v)
                                for k, v in res.metadata().items()}
        meta["folder"] = MetadataValue.path(str(folder))
        meta["fingerprint"] = MetadataValue.text(roster.fingerprint if roster.found else "")
        meta["duration_s"] = MetadataValue.float(round(res.seconds, 3))
        if not roster.found:
            context.log.info(f"raw/roster: no roster in {folder}")
        else:
            context.log.info(f"raw/roster: {res.mobiles} mobiles, {res.asked} asked in {res.api_calls} API 20 calls; "
                             f"{res.known} known, {res.unknown} unknown to the platform")
        return MaterializeResult(metadata=meta)

    return raw_roster
