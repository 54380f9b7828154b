"""Real-size event bodies: every property a schema defines, filled as production fills it.

The small corpus varies each schema's published example, which for many schemas holds one or
two fields ("example" strings, a NavigationTiming with only ``isAnon``).  Real traffic is
wider and heavier: a NavigationTiming page load carries 30-40 timings and tokens, about
1.1 KB a line.  Here a body is built from the JSON Schema alone: each property gets a value of
its declared type, drawn from what its name says it is (``…Token``: a fresh token of the real
length; timings: log-normal milliseconds; ``userAgent``, ``wiki``, ``country``, titles, ...),
inside the schema's ``enum``, bounds, ``maxLength`` and ``pattern``; nested objects and arrays
are filled the same way.  Values a real producer makes fresh for every event (tokens, ids,
clocks) are listed by ``fresh_fields`` so a pooled body can be renewed cheaply per event.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from corpus_events import START, TITLES, WORDS, Model

Make = Callable[[random.Random], Any]

UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
TOKEN_PATTERN = "^[0-9a-z]{20}$"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.39 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)
WIKIS = ("enwiki", "dewiki", "frwiki", "eswiki", "jawiki", "ruwiki", "itwiki", "commonswiki")
COUNTRIES = ("US", "DE", "GB", "FR", "JP", "IN", "BR", "RU", "ES", "IT", "NL", "PL", "CA")
LANGUAGES = ("en", "de", "fr", "es", "ja", "ru", "it", "zh", "pt", "ar", "he", "hi")
SKINS = ("vector-2022", "vector-2022", "minerva", "vector", "timeless", "monobook")
QUERIES = ("albert einstein", "weather", "list of countries by population", "Köln", "東京")
SENTENCES = (
    "Copyedit: fixed the infobox and two citations",
    "The page loads slowly on my phone when the images are shown",
    "Reverted edits by 192.0.2.44 (talk) to last version by Example",
)
# Timing fields (ms since navigation start), by lower-case name: (median, log-spread, share
# that is exactly 0).  Names not listed but that read as a duration use DEFAULT_TIMING.
TIMINGS = {
    "fetchstart": (4, 0.8, 0.1), "dnslookup": (18, 1.2, 0.7), "connectstart": (12, 1.0, 0.5),
    "secureconnectionstart": (40, 0.9, 0.5), "connectend": (90, 0.9, 0.5),
    "requeststart": (110, 0.9, 0.0), "responsestart": (380, 0.8, 0.0),
    "responseend": (470, 0.8, 0.0), "dominteractive": (1150, 0.8, 0.0),
    "domcomplete": (2100, 0.8, 0.0), "loadeventstart": (2100, 0.8, 0.0),
    "loadeventend": (2120, 0.8, 0.0), "mediawikiloadend": (2400, 0.8, 0.0),
    "firstpaint": (850, 0.8, 0.0), "firstcontentfulpaint": (880, 0.8, 0.0),
    "largestcontentfulpaint": (1400, 0.9, 0.0), "redirecting": (150, 1.0, 0.0),
    "unload": (3, 1.0, 0.8), "gaps": (6, 1.2, 0.2), "starttime": (900, 0.8, 0.0),
    "inputdelay": (16, 1.2, 0.0), "mstodisplayresults": (250, 0.8, 0.0),
    "savetiming": (1200, 0.9, 0.0), "performancenow": (5000, 1.0, 0.0),
}  # fmt: skip
DEFAULT_TIMING = (600, 1.1, 0.0)
DURATION_WORDS = ("timing", "time", "duration", "delay", "paint", "start", "end")
# Optional properties most events lack (only some pages, sessions or modes have them).
PRESENCE = {
    "mobilemode": 0.3, "mwspecialpagename": 0.05, "veaction": 0.03, "oversamplereason": 0.04,
    "redirecting": 0.1, "save_failure_message": 0.05, "save_failure_type": 0.05,
    "save_failure_timing": 0.05, "errormsg": 0.05, "debuginfo": 0.05, "abort_type": 0.2,
    # Reported by Chromium-based browsers only (about 60% of page loads).
    "netinfoconnectiontype": 0.6, "netinfodownlink": 0.6, "netinfortt": 0.6,
    "netinfoeffectiveconnectiontype": 0.6, "devicememory": 0.6, "longtasksbeforefcp": 0.6,
    "longtasksdurationbeforefcp": 0.6, "longtasktotalduration": 0.6, "longtasktotaltasks": 0.6,
    "largestcontentfulpaint": 0.7, "largestcontentfulpaintelement": 0.7,
    "cumulativelayoutshift": 0.7,
}  # fmt: skip
POOL = 1024  # distinct bodies per schema; tokens, ids and clocks are new in each event
ABSENT = 0.03  # any other optional property: a browser that does not report it
NOT_TOKENS = frozenset({"featureid"})  # names ending in "id" that hold no token
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def event(schema: dict, rng: random.Random, sample: dict | None = None) -> dict:
    """A body for ``schema``: every property (rare conditional ones at their real rate)."""
    return _object(schema, rng, sample or {}, top=True)


def fresh_fields(schema: dict) -> list[tuple[str, Make]]:
    """The top-level properties whose value is new in every event, with how to make one."""
    out = []
    for key, spec in schema.get("properties", {}).items():
        make = _fresh(key, spec)
        if make is not None:
            out.append((key, make))
    return out


def _object(spec: dict, rng: random.Random, sample: dict, top: bool = False) -> dict:
    properties = spec.get("properties") or {}
    if not properties:
        extra = spec.get("additionalProperties")
        kind = extra if isinstance(extra, dict) else {"type": "string"}
        return {rng.choice(WORDS) + "-answer": value("", kind, rng) for _ in range(2)}
    required = set(spec.get("required", ()))
    out = {}
    for key, sub in properties.items():
        if key not in required and (not top or _fresh(key, sub) is None):  # ids: always
            share = PRESENCE.get(key.lower(), 1 - ABSENT) if top else 1 - ABSENT
            if rng.random() >= share:
                continue
        out[key] = value(key, sub, rng, sample.get(key))
    return out


def value(key: str, spec: dict, rng: random.Random, sample: object = None) -> Any:
    """A value valid against ``spec``, as a producer fills the property named ``key``."""
    if "enum" in spec:
        return rng.choice(spec["enum"])
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next(t for t in kind if t != "null")
    if kind == "string":
        return _string(key, spec, rng, sample)
    if kind == "integer":
        return _clamp(spec, _integer(key.lower(), rng))
    if kind == "number":
        return _clamp(spec, _number(key.lower(), rng))
    if kind == "boolean":
        return rng.random() < (0.8 if "anon" in key.lower() else 0.3)
    if kind == "array":
        items = spec.get("items") if isinstance(spec.get("items"), dict) else {"type": "string"}
        return [value(key.rstrip("s"), items, rng) for _ in range(rng.randint(1, 3))]
    if kind == "object":
        return _object(spec, rng, sample if isinstance(sample, dict) else {})
    return rng.choice(WORDS)


def _fresh(key: str, spec: dict) -> Make | None:
    """How to renew a per-event value (tokens, ids, clocks), or None for anything else."""
    if spec.get("type") != "string" or "enum" in spec:
        return None
    name = key.lower()
    pattern = spec.get("pattern")
    if pattern == UUID_PATTERN:
        return lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if pattern == TOKEN_PATTERN:
        return lambda rng: "".join(rng.choices(_ALNUM, k=20))
    if name in NOT_TOKENS or not ("token" in name or "session" in name or name.endswith("id")):
        return None
    length = 32 if "session" in name else 20
    bits = length * 4
    return lambda rng: f"{rng.getrandbits(bits):0{length}x}"


def _string(key: str, spec: dict, rng: random.Random, sample: object) -> str:
    fresh = _fresh(key, spec)
    text = fresh(rng) if fresh is not None else _named_text(key.lower(), rng, sample)
    low, high = spec.get("minLength", 0), spec.get("maxLength")
    if len(text) < low:
        text += "".join(rng.choices(_ALNUM, k=low - len(text)))
    return text if high is None else text[:high]


def _named_text(name: str, rng: random.Random, sample: object) -> str:
    """Free text by what the property's name says it holds."""
    choice = rng.choice
    if name == "action":
        return choice(("view", "view", "view", "edit", "history", "submit"))
    if "useragent" in name:
        return choice(USER_AGENTS)
    if name in ("wiki", "db", "notifwiki", "database"):
        return choice(WIKIS)
    if "country" in name or name == "region":
        return choice(COUNTRIES)
    if "lang" in name or name in ("seed", "origin"):
        return choice(LANGUAGES)
    if "title" in name or name in ("returnto", "mwspecialpagename"):
        return ("Special:" if "special" in name else "") + choice(TITLES)
    if "url" in name or "referer" in name or "sourcefile" in name:
        return "https://en.wikipedia.org/wiki/" + choice(TITLES)
    if name == "ip":
        return f"192.0.2.{rng.randrange(1, 255)}"
    if "cachehost" in name:
        return f"cp{rng.randrange(3050, 3070)}"
    if "cacheresponsetype" in name:
        return choice(("hit-front", "hit-local", "miss", "pass"))
    if "effectiveconnectiontype" in name:
        return choice(("4g", "4g", "3g", "2g"))
    if "connectiontype" in name:
        return choice(("wifi", "cellular", "ethernet"))
    if "version" in name:
        return f"1.44.0-wmf.{rng.randrange(1, 28)}"
    if name == "skin":
        return choice(SKINS)
    if "element" in name:
        return choice(("IMG", "P", "H1", "DIV", "SPAN"))
    if "query" in name or "term" in name:
        return choice(QUERIES)
    if name.endswith(("_dt", "timestamp", "time")):
        minute, second, milli = rng.randrange(60), rng.randrange(60), rng.randrange(1000)
        return f"2026-11-28T05:{minute:02d}:{second:02d}.{milli:03d}Z"
    if any(word in name for word in ("message", "summary", "feedback", "text", "reason")):
        return choice(SENTENCES)
    if isinstance(sample, str) and sample and "example" not in sample and len(sample) < 100:
        return sample
    return choice(WORDS) + "-" + choice(WORDS)


def _integer(name: str, rng: random.Random) -> int:
    if name.endswith(("timestamp", "_ts_ms", "_ts")):
        return START * 1000 + rng.randrange(3_600_000)
    timing = TIMINGS.get(name)
    if timing is None and any(word in name for word in DURATION_WORDS):
        timing = DEFAULT_TIMING
    if timing is not None:
        median, spread, zero = timing
        return 0 if rng.random() < zero else int(rng.lognormvariate(math.log(median), spread))
    if "namespace" in name or name.endswith("ns"):
        return rng.choice((0, 0, 0, 0, 1, 2, 4, 6, 14))
    if "rev" in name:
        return rng.randrange(1_000_000_000, 1_270_000_000)
    if "user" in name and "id" in name:
        return rng.choice((0, rng.randrange(1, 48_000_000)))
    if name.endswith("id"):
        return rng.randrange(1, 78_000_000)
    if "editcount" in name or "edit_count" in name:
        return int(rng.lognormvariate(3.0, 2.0))
    if "size" in name:
        return int(rng.lognormvariate(math.log(24_000), 1.0))
    if "rtt" in name:
        return rng.choice((50, 100, 150, 250, 400))
    if "height" in name or "width" in name:
        return rng.randrange(320, 2560)
    return int(rng.lognormvariate(1.5, 1.0))  # counts, positions, scores: small


def _number(name: str, rng: random.Random) -> float:
    if "memory" in name:
        return rng.choice((0.5, 1, 2, 4, 8))
    if "concurrency" in name:
        return rng.choice((2, 4, 6, 8, 12, 16))
    if "downlink" in name:
        return round(rng.lognormvariate(2.0, 0.8), 2)
    if "layoutshift" in name:
        return round(rng.expovariate(20), 4)
    if "rate" in name or "multiplier" in name:
        return rng.choice((0.01, 0.1, 1))
    return rng.random()  # levels, shares, random draws: a full-precision double in 0..1


def _clamp(spec: dict, number: Any) -> Any:
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and number < low:
        return low
    if high is not None and number > high:
        return high
    return number


class RealBodies:
    """Real-size bodies per schema from a pool (grown on first use, so a shorter corpus stays
    a prefix of a longer one), each event with its own tokens, ids and clocks."""

    def __init__(self, pool: int = POOL) -> None:
        self.pool = pool
        self._pools: dict[str, list[dict]] = {}
        self._fresh: dict[str, list[tuple[str, Make]]] = {}

    def body(self, model: Model, rng: random.Random) -> dict:
        pool = self._pools.setdefault(model.name, [])
        if len(pool) < self.pool:
            built = event(model.schema, rng, rng.choice(model.samples))
            pool.append(built)
        else:
            built = pool[rng.randrange(self.pool)]
        fresh = self._fresh.get(model.name)
        if fresh is None:
            fresh = self._fresh[model.name] = fresh_fields(model.schema)
        body = dict(built)
        for key, make in fresh:
            if key in body:
                body[key] = make(rng)
        return body
