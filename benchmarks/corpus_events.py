"""The event bodies of the synthetic corpus: where they come from and how they vary.

Each schema of ``examples/schemas`` that has a published example in ``examples/samples`` gives a
``Model``; valid bodies are that example with its values varied inside what the schema allows, and
invalid ones are valid bodies with one mutation of a known kind.  ``corpus.py`` wraps the bodies
in capsules and lines.
"""

from __future__ import annotations

import calendar
import copy
import random
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import orjson

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "samples"
SCHEMAS = ROOT / "examples" / "schemas"

START = calendar.timegm((2026, 11, 28, 5, 0, 0))  # 2026-11-28T05:00:00Z
POOL = 128  # distinct event bodies kept per schema: variety without paying to build each line

# Free-text values, picked by what the property's name suggests; some are non-ASCII so the
# encoders and utf8mb4 columns are exercised.
TITLES = (
    "Main_Page",
    "Special:Search",
    "Albert_Einstein",
    "Köln",
    "東京都",
    "Москва",
    "São_Paulo",
    "Help:Editing",
    "Wikipedia:Village_pump",
    "List_of_sovereign_states",
)
LANGUAGES = ("en", "de", "fr", "es", "ja", "ru", "it", "zh", "pt", "ar", "he", "hi")
WORDS = ("click", "view", "submit", "default", "mobile", "desktop", "control", "test-a", "init")

_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"
_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_TOKEN_PATTERN = "^[0-9a-z]{20}$"


class _Skip(Exception):
    """No value can be generated for this property (unknown pattern, no type)."""


@dataclass
class Model:
    """One schema revision: its JSON Schema, its example events and the variants made so far."""

    name: str
    revision: str
    schema: dict
    samples: list[dict]
    pool: list[dict] = field(default_factory=list)

    @property
    def properties(self) -> dict:
        return self.schema.get("properties", {})

    @property
    def satisfiable(self) -> bool:
        """False when the schema requires a field that it does not allow."""
        if self.schema.get("additionalProperties", False) is not False:
            return True
        return set(self.schema.get("required", ())) <= set(self.properties)


def load_models(samples: Path = SAMPLES, schemas: Path = SCHEMAS) -> list[Model]:
    """Every schema that has both a sample and a schema file, sorted by name."""
    models = []
    for path in sorted(samples.glob("*.jsonl")):
        capsules = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        if not capsules:
            continue
        revision = str(capsules[0]["revision"])
        schema_file = schemas / capsules[0]["schema"] / f"{revision}.json"
        if not schema_file.is_file():
            continue
        schema = orjson.loads(schema_file.read_bytes())
        events = [
            _conforming(c["event"], schema) for c in capsules if str(c["revision"]) == revision
        ]
        models.append(Model(capsules[0]["schema"], revision, schema, events))
    if not models:
        raise SystemExit(f"corpus: no samples with schemas under {samples} and {schemas}")
    return models


def _conforming(event: dict, schema: dict) -> dict:
    """The example without fields its schema neither declares nor requires: a few published
    examples carry fields (``wiki``) that ``additionalProperties: false`` refuses."""
    if schema.get("additionalProperties", False) is not False:
        return event
    known = set(schema.get("properties", {})) | set(schema.get("required", ()))
    return {key: value for key, value in event.items() if key in known}


# ---- valid values -------------------------------------------------------------------------------


def _value(
    spec: dict, rng: random.Random, sample: object = None, has_sample: bool = False, key: str = ""
):
    """A value valid against ``spec`` for the property ``key``, often near the example's."""
    if "enum" in spec:
        return rng.choice(spec["enum"])
    kind = spec.get("type")
    if kind == "string":
        return _string(spec, rng, sample if has_sample else None, key.lower())
    if kind == "integer":
        if "timestamp" in key.lower():  # milliseconds around the corpus's clock
            return _integer(spec, rng, START * 1000 + rng.randrange(3_600_000), exact=True)
        return _integer(spec, rng, sample if type(sample) is int else 100)
    if kind == "number":
        low, high = _bounds(spec, sample if type(sample) in (int, float) else 1000)
        return round(rng.uniform(low, high), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        items = spec.get("items")
        if not isinstance(items, dict):
            raise _Skip
        return [_value(items, rng) for _ in range(rng.randint(0, 3))]
    if kind == "object":
        return _object(spec, rng, sample if type(sample) is dict else None)
    if has_sample:
        return sample
    raise _Skip


def _string(spec: dict, rng: random.Random, sample: str | None, key: str) -> str:
    pattern = spec.get("pattern")
    if pattern == _UUID_PATTERN:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if pattern == _TOKEN_PATTERN:
        return "".join(rng.choices(_ALNUM, k=20))
    if pattern is not None:
        if sample is None:
            raise _Skip
        return sample  # an unknown pattern: the example is the only value known to match
    low, high = spec.get("minLength", 0), spec.get("maxLength")
    if "token" in key or key.endswith("id"):  # a fresh token, as long as the example's
        text = "".join(rng.choices(_HEX, k=len(sample) if sample and len(sample) >= 10 else 20))
    elif "language" in key:
        text = rng.choice(LANGUAGES)
    elif "title" in key:
        text = rng.choice(TITLES)
    elif key.endswith("url"):
        text = "https://en.wikipedia.org/wiki/" + quote_plus(rng.choice(TITLES))
    elif sample is not None and rng.random() < 0.6:
        text = sample
    else:
        text = rng.choice(WORDS)
    if len(text) < low:
        text += "".join(rng.choices(_ALNUM, k=low - len(text)))
    return text if high is None else text[:high]


def _bounds(spec: dict, base: float) -> tuple[float, float]:
    """A realistic range around the example's value, inside the schema's bounds."""
    low = spec.get("minimum")
    high = spec.get("maximum")
    start = 0 if low is None or low <= 0 else low
    end = max(start + 10, 3 * abs(base) + 10)
    if high is not None:
        end = min(end, high)
    return start, max(start, end)


def _integer(spec: dict, rng: random.Random, base: int, exact: bool = False) -> int:
    low, high = _bounds(spec, base)
    if exact and low <= base <= high:
        return base
    return rng.randint(int(low), int(high))


def _object(spec: dict, rng: random.Random, sample: dict | None) -> dict:
    properties = spec.get("properties")
    if not properties:
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict):  # a free-form map of typed values
            return {rng.choice(TITLES): _value(extra, rng) for _ in range(rng.randint(1, 2))}
        if sample is not None:
            return copy.deepcopy(sample)
        raise _Skip
    sample = sample or {}
    out = {}
    required = set(spec.get("required", ()))
    for key, sub in properties.items():
        if key in sample or key in required or rng.random() < 0.3:
            try:
                out[key] = _value(sub, rng, sample.get(key), key in sample, key)
            except _Skip:
                if key in sample:
                    out[key] = sample[key]
    return out


def _vary(model: Model, rng: random.Random) -> dict:
    """A new valid event: the example's fields varied, plus up to two optional ones."""
    sample = rng.choice(model.samples)
    event = {}
    properties = model.properties
    for key, value in sample.items():
        spec = properties.get(key)
        try:
            event[key] = value if spec is None else _value(spec, rng, value, True, key)
        except _Skip:
            event[key] = value
    absent = [key for key in properties if key not in event]
    for key in rng.sample(absent, min(len(absent), rng.randint(0, 2))):
        with suppress(_Skip):
            event[key] = _value(properties[key], rng, key=key)
    return event


def event_body(model: Model, rng: random.Random) -> dict:
    """An event body from the schema's pool (grown on first use, so a prefix stays a prefix)."""
    if len(model.pool) < POOL:
        event = _vary(model, rng)
        model.pool.append(event)
        return event
    return model.pool[rng.randrange(POOL)]


# ---- invalid events -----------------------------------------------------------------------------

_WRONG = {"string": 12345, "integer": "12", "number": "1.5", "boolean": "true"}


def _wrong_type(model: Model, event: dict, rng: random.Random) -> None:
    keys = [k for k in event if k in model.properties]
    if not keys:
        event["__extra"] = 1
        return
    key = rng.choice(keys)
    event[key] = _WRONG.get(model.properties[key].get("type"), "not-an-object")


def _bad_enum(model: Model, event: dict, rng: random.Random) -> None:
    keys = sorted(k for k, spec in model.properties.items() if "enum" in spec)
    if not keys:
        return _wrong_type(model, event, rng)
    key = rng.choice(keys)
    spec = model.properties[key]
    event[key] = 48 if spec.get("type") == "integer" else "not-in-" + key


def _missing_required(model: Model, event: dict, rng: random.Random) -> None:
    keys = [k for k in model.schema.get("required", ()) if k in event]
    if not keys:
        return _wrong_type(model, event, rng)
    del event[rng.choice(keys)]


def _out_of_range(model: Model, event: dict, rng: random.Random) -> None:
    keys = sorted(
        k
        for k, spec in model.properties.items()
        if spec.get("type") in ("integer", "number") and ("maximum" in spec or "minimum" in spec)
    )
    if not keys:
        return _wrong_type(model, event, rng)
    key = rng.choice(keys)
    spec = model.properties[key]
    if "maximum" in spec:
        event[key] = spec["maximum"] + 1 if spec["type"] == "integer" else spec["maximum"] * 2.0
    else:
        event[key] = spec["minimum"] - 1 if spec["type"] == "integer" else spec["minimum"] * 2.0


EVENT_MUTATIONS = {
    "wrong-type": _wrong_type,
    "bad-enum": _bad_enum,
    "missing-required": _missing_required,
    "extra-property": lambda model, event, rng: event.__setitem__("unexpectedField", "surprise"),
    "out-of-range": _out_of_range,
}


def malformed(data: bytes, rng: random.Random) -> bytes:
    """Truncated (a cut-off datagram) or mangled (a hand-written producer) JSON."""
    if rng.random() < 0.5:
        return data[: rng.randrange(1, len(data) - 1)]
    return data.replace(b'"', b"'", 2)
