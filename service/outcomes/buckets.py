"""The read model: outcomes pre-aggregated into time buckets as they are recorded.

Every completion, quality row and shadow comparison adds to three bucket hashes, one per
resolution, in the same Lua script that appends its stream entry (after the repeat check, so
a repeat counts nowhere):

==========  ==========  ===================================  ====
resolution  bucket      kept                                 name
==========  ==========  ===================================  ====
minute      60 s        2 days after the bucket ends         ``m``
hour        3,600 s     90 days after the bucket ends        ``h``
day         86,400 s    for ever                             ``d``
==========  ==========  ===================================  ====

A bucket's key is ``Keys.read_model_bucket(name, start)`` (:mod:`service.keys`).

(Rolling minutes up into hours and days at write time costs two more ``HINCRBY`` per field and
needs no roll-up job that could fall behind.) A bucket is a hash of counters, fields
``{system}:{role}:{counter}`` with role ``acting`` or ``shadow``:

* ``n``, ``ok``: completions and successful ones; ``h{k}``: the duration histogram, bin ``k``
  holding durations in ``(2^((k-1)/8), 2^(k/8)]`` seconds (about 9 % wide; see :func:`bin_of`);
* ``cmp``, ``miss``: shadow comparisons this system took part in (acting: as control, shadow: as
  candidate) and the mismatches among them;
* ``pr``, ``merged``, ``build``, ``green`` (role ``acting``, the owner): pull requests closed and
  merged, check suites concluded and passed.

A window is the sum of the buckets covering ``[start, now]``, ``start`` rounded down to the
minute (windows up to 2 days), to the hour (up to 90 days) or to the day (longer): at most about
110 hashes, summed inside Redis by one script, whatever the history holds. Buckets are added
whole, so a window never splits a minute. Histograms add bin by bin, so p50 and p95 of any window
come from its summed bins (:func:`quantile`, within one bin's width of the exact value).

Memory: a minute bucket holds about 10-40 fields (~1-2 KB), an hour or day bucket up to ~150
(~3-6 KB): at a steady load, about 2,880 minute buckets, 2,160 hour buckets and one day bucket per
day, i.e. roughly 5 MB + 10 MB + 5 KB a day for ever (``bench/history.py`` measures it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from flags.model import System
from service.keys import Keys
from service.outcomes.records import BUILD_KIND, PR_CLOSED

__all__ = [
    "ADD_TO_BUCKETS_LUA",
    "BIN_MAX",
    "BIN_MIN",
    "DAY",
    "HOUR",
    "MINUTE",
    "RESOLUTIONS",
    "BucketSpec",
    "Counts",
    "Resolution",
    "bin_of",
    "bin_upper",
    "bucket_spec",
    "bucket_writes",
    "comparison_fields",
    "completion_fields",
    "histogram_of",
    "quality_fields",
    "quantile",
    "rebuild_set_key",
    "window_keys",
    "window_start",
]


BIN_MIN = -32  # 2^-4 s = 62.5 ms and below
BIN_MAX = 136  # above 2^17 s = 36 h


@dataclass(frozen=True, slots=True)
class Resolution:
    name: str
    seconds: int
    retention: int | None  # seconds kept after the bucket ends; None: for ever

    def start(self, at: float) -> int:
        return int(at // self.seconds) * self.seconds

    def key(self, prefix: str, start: int) -> str:
        return Keys(prefix).read_model_bucket(self.name, start)


def rebuild_set_key(prefix: str) -> str:
    """The set of bucket keys found corrupt, waiting to be rebuilt from the streams."""
    return Keys(prefix).read_model_rebuild


MINUTE = Resolution("m", 60, 2 * 86400)
HOUR = Resolution("h", 3600, 90 * 86400)
DAY = Resolution("d", 86400, None)
RESOLUTIONS: tuple[Resolution, ...] = (MINUTE, HOUR, DAY)

Counts = dict[str, int]
"""Summed bucket fields, ``{system}:{role}:{counter}`` -> count (absent: 0)."""


def bin_of(seconds: float) -> int:
    """The histogram bin of a duration: the least ``k`` with ``seconds <= 2^(k/8)``."""
    if seconds <= 2.0 ** (BIN_MIN / 8):
        return BIN_MIN
    k = math.ceil(8 * math.log2(seconds))
    if 2.0 ** ((k - 1) / 8) >= seconds:  # log2 rounding at an exact bound
        k -= 1
    return min(k, BIN_MAX)


def bin_upper(k: int) -> float:
    return float(2.0 ** (k / 8))


def quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile of binned durations, interpolated geometrically inside its bin."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for k in sorted(histogram):
        count = histogram[k]
        if count and seen + count >= rank:
            lower, upper = bin_upper(k - 1), bin_upper(k)
            if k == BIN_MIN:
                return upper
            return float(lower * (upper / lower) ** ((rank - seen) / count))
        seen += count
    return bin_upper(max(histogram))


def completion_fields(
    system: str, *, dry_run: bool, success: bool, seconds: float
) -> dict[str, int]:
    role = "shadow" if dry_run else "acting"
    fields = {f"{system}:{role}:n": 1, f"{system}:{role}:h{bin_of(seconds)}": 1}
    if success:
        fields[f"{system}:{role}:ok"] = 1
    return fields


def quality_fields(system: str, *, kind: str, success: bool) -> dict[str, int]:
    """PRs closed/merged and builds concluded/green; other CI kinds are not counted."""
    if kind == PR_CLOSED:
        total, good = "pr", "merged"
    elif kind == BUILD_KIND:
        total, good = "build", "green"
    else:
        return {}
    fields = {f"{system}:acting:{total}": 1}
    if success:
        fields[f"{system}:acting:{good}"] = 1
    return fields


def comparison_fields(control: str, candidate: str, *, matched: bool) -> dict[str, int]:
    fields: dict[str, int] = {}
    for system, role in ((control, "acting"), (candidate, "shadow")):
        fields[f"{system}:{role}:cmp"] = fields.get(f"{system}:{role}:cmp", 0) + 1
        if not matched:
            fields[f"{system}:{role}:miss"] = fields.get(f"{system}:{role}:miss", 0) + 1
    return fields


def bucket_writes(prefix: str, at: float, *, now: float) -> list[tuple[str, int]]:
    """``(key, expire-at)`` of the buckets an outcome at ``at`` adds to; expire-at 0: never.

    A bucket already past its retention (history written with an old clock) is left out."""
    writes = []
    for resolution in RESOLUTIONS:
        start = resolution.start(at)
        if resolution.retention is None:
            writes.append((resolution.key(prefix, start), 0))
            continue
        expire_at = start + resolution.seconds + resolution.retention
        if expire_at > now:
            writes.append((resolution.key(prefix, start), expire_at))
    return writes


ADD_TO_BUCKETS_LUA = """
-- Adds spec.fields to the bucket hashes KEYS[first .. first + #spec.expire - 1]; KEYS[first - 1]
-- is the set of buckets to rebuild: a bucket holding a field that is not an integer is dropped,
-- started afresh and listed there (the reader rebuilds it from the streams).
local function add_to_buckets(first, spec_json)
  local spec = cjson.decode(spec_json)
  for i, expire_at in ipairs(spec.expire) do
    local key = KEYS[first + i - 1]
    for attempt = 1, 2 do
      local failed = false
      for field, amount in pairs(spec.fields) do
        local result = redis.pcall('HINCRBY', key, field, amount)
        if type(result) == 'table' and result.err then
          failed = true
          break
        end
      end
      if not failed then break end
      redis.call('DEL', key)
      redis.call('SADD', KEYS[first - 1], key)
    end
    if expire_at > 0 then
      redis.call('EXPIREAT', key, expire_at)
    end
  end
end
"""


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """What one recorded outcome adds: the bucket keys, and the script argument describing it."""

    keys: tuple[str, ...]
    argument: str


def bucket_spec(prefix: str, at: float, fields: Mapping[str, int], *, now: float) -> BucketSpec:
    writes = bucket_writes(prefix, at, now=now)
    argument = json.dumps({"expire": [expire for _, expire in writes], "fields": dict(fields)})
    return BucketSpec(tuple(key for key, _ in writes), argument)


def window_start(since: float, now: float) -> int:
    """``since`` rounded down to the finest resolution still kept that far back."""
    age = now - since
    for resolution in RESOLUTIONS:
        if resolution.retention is None or age + resolution.seconds < resolution.retention:
            return resolution.start(since)
    raise AssertionError("the last resolution is kept for ever")  # pragma: no cover


def window_keys(prefix: str, since: float, now: float, end: float | None = None) -> list[str]:
    """The buckets whose sum is everything recorded in ``[window_start(since), end)`` (``end``
    None: up to ``now``): from the start, the coarsest bucket aligned there that ends by
    ``end`` (or, when the span reaches the present, one holding ``now``: nothing is later)."""
    at = window_start(since, now)
    limit = math.inf if end is None else end
    keys = []
    while at < limit and at <= now:
        resolution = next(
            r
            for r in reversed(RESOLUTIONS)
            if at % r.seconds == 0 and (at + r.seconds <= limit or limit > now)
        )
        keys.append(resolution.key(prefix, at))
        at += resolution.seconds
    return keys


def histogram_of(counts: Mapping[str, int], system: System, role: str) -> dict[int, int]:
    """The duration histogram of one system and role in summed counters."""
    head = f"{system.value}:{role}:h"
    return {int(f[len(head) :]): n for f, n in counts.items() if f.startswith(head)}
