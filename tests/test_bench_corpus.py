"""The benchmark's real-size corpus: every generated event passes el-monitor's own validators,
fills every property its schema defines, and weighs what real traffic weighs."""

from __future__ import annotations

import random
import re
import statistics
import sys
from pathlib import Path

import orjson
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import corpus  # noqa: E402
import corpus_events  # noqa: E402
import corpus_values  # noqa: E402

from el_monitor.schema.registry import DirectoryRegistry  # noqa: E402

EVENTS_PER_SCHEMA = 300
MODELS = corpus_events.load_models()


@pytest.fixture(scope="module")
def registry() -> DirectoryRegistry:
    return DirectoryRegistry(corpus_events.SCHEMAS)


def _properties(schema: dict, prefix: str = "") -> set[str]:
    """Every property path a schema defines, nested ones as ``a.b``."""
    out = set()
    for key, spec in schema.get("properties", {}).items():
        out.add(prefix + key)
        if spec.get("type") == "object":
            out |= _properties(spec, f"{prefix}{key}.")
    return out


def _present(event: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in event.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= _present(value, f"{prefix}{key}.")
    return out


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_every_real_event_is_valid_and_every_property_filled(
    model: corpus_events.Model, registry: DirectoryRegistry
) -> None:
    compiled = registry.get(model.name, model.revision)
    assert compiled is not None
    bodies = corpus_values.RealBodies(pool=EVENTS_PER_SCHEMA // 2)
    rng = random.Random(7)
    seen: set[str] = set()
    for _ in range(EVENTS_PER_SCHEMA):
        event = bodies.body(model, rng)
        failure = compiled.validate(event)
        if model.satisfiable:
            assert failure is None, (failure, event)
        else:  # requires a field it does not declare: only that may be wrong
            assert failure is not None and "required" in failure.message, failure
        seen |= _present(event)
    defined = _properties(model.schema)
    assert defined <= seen, sorted(defined - seen)


def test_tokens_and_user_agents_have_their_real_length() -> None:
    [timing] = [m for m in MODELS if m.name == "NavigationTiming"]
    [editing] = [m for m in MODELS if m.name == "EditAttemptStep"]
    rng = random.Random(3)
    bodies = corpus_values.RealBodies()
    tokens = {bodies.body(timing, rng)["pageviewToken"] for _ in range(500)}
    assert len(tokens) == 500  # a fresh token per event, even from a pooled body
    assert all(re.fullmatch("[0-9a-f]{20}", token) for token in tokens)
    sessions = [bodies.body(editing, rng).get("session_token") for _ in range(200)]
    assert all(re.fullmatch("[0-9a-f]{32}", s) for s in sessions if s is not None)
    assert all(len(agent) >= 70 for agent in corpus_values.USER_AGENTS)


def test_real_navigation_timing_lines_weigh_what_real_ones_do() -> None:
    lines = [
        line
        for line, kind in corpus.Generator(5, 0.10, "json", "real", ["NavigationTiming"]).lines(
            3000
        )
        if kind is None
    ]
    sizes = [len(line) for line in lines]
    fields = [len(orjson.loads(line)["event"]) for line in lines]
    assert 900 <= statistics.mean(sizes) <= 1300
    assert 30 <= statistics.mean(fields) <= 40
    capsules = [orjson.loads(line) for line in lines]
    assert all(len(capsule["userAgent"]) >= 70 for capsule in capsules)
    for timing in ("responseStart", "domComplete", "firstContentfulPaint"):
        values = [c["event"][timing] for c in capsules if timing in c["event"]]
        assert len(values) > 0.9 * len(capsules)
        assert all(type(v) is int and v >= 0 for v in values)
        median = corpus_values.TIMINGS[timing.lower()][0]
        assert median / 2 <= statistics.median(values) <= median * 2, (timing, median)


@pytest.mark.parametrize("fmt", corpus.FORMATS)
@pytest.mark.parametrize("schemas", [["NavigationTiming"], []], ids=["NavigationTiming", "mixed"])
def test_real_corpus_labels_match_the_forwarders_verdicts(fmt: str, schemas: list[str]) -> None:
    """Lines labelled valid parse and validate; about 10% carry their kind of invalidity."""
    labelled = list(corpus.Generator(11, 0.10, fmt, "real", schemas).lines(2000))
    labels = corpus.check(labelled, fmt)
    assert 0.07 <= 1 - labels["valid"] / 2000 <= 0.13, labels
    if schemas and fmt == "json":
        named = {orjson.loads(line)["schema"] for line, kind in labelled if kind is None}
        assert named == {"NavigationTiming"}


def test_real_corpus_is_deterministic_and_a_prefix_of_a_longer_one() -> None:
    short = list(corpus.generate(500, seed=4, fmt="raw", events="real"))
    long = list(corpus.generate(1500, seed=4, fmt="raw", events="real"))
    assert long[:500] == short
    assert list(corpus.generate(500, seed=5, fmt="raw", events="real")) != short
