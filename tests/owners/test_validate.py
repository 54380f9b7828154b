"""``el-monitor validate``: the bundled examples pass, every error of a broken event is listed
with its path, value and the schema's description, raw varnish lines and bare events are
read, and the verdicts are the forwarder's own on the same lines."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from forwarder.support import bad_corpus, forward
from helpers import SCHEMAS, ListSource, example_capsules

from el_monitor.cli import main as cli
from el_monitor.measures import OVERALL

VARNISH = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"


def run(capsys, tmp_path: Path, lines: list[bytes], *args: str) -> tuple[int, str]:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(line + b"\n" for line in lines))
    status = cli.main(["validate", "--schemas", str(SCHEMAS), *args, str(events)])
    return status, capsys.readouterr().out


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_every_bundled_example_is_valid(capsys, tmp_path):
    capsules = example_capsules()
    assert len(capsules) >= 50
    status, out = run(capsys, tmp_path, [json.dumps(c).encode() for c in capsules])
    assert status == 0
    assert out.strip() == f"{len(capsules)} events: {len(capsules)} valid, 0 invalid"


def test_every_error_of_an_event_is_listed_with_path_value_and_description(capsys, tmp_path):
    cpu = {"schema": "CpuBenchmark", "revision": "1.2.0", "wiki": "enwiki"}
    broken = dict(cpu, event={"score": "fast", "mobileMode": "gamma", "batteryLevel": 2**60})
    nav = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
    missing = dict(nav, event={"action": "view", "surprise": 1})
    good = dict(cpu, event={"score": 100})
    lines = [json.dumps(c).encode() for c in (good, broken, missing)]
    status, out = run(capsys, tmp_path, lines, "--json")
    assert status == 1
    verdicts = records(out)
    assert [v["valid"] for v in verdicts] == [True, False, False]
    assert [v["line"] for v in verdicts] == [1, 2, 3]
    errors = {e["path"]: e for e in verdicts[1]["errors"]}
    assert set(errors) == {"$.score", "$.mobileMode", "$.batteryLevel"}  # all, not the first
    assert "is not of type 'integer'" in errors["$.score"]["message"]
    assert errors["$.score"]["value"] == '"fast"'
    assert errors["$.score"]["description"].startswith("A score representing the outcome")
    assert "is not one of" in errors["$.mobileMode"]["message"]
    assert errors["$.mobileMode"]["description"].startswith("If in mobile view")
    assert "maximum" in errors["$.batteryLevel"]["message"]
    assert errors["$.batteryLevel"]["description"].startswith("The current battery level")
    nav_errors = verdicts[2]["errors"]
    assert len(nav_errors) == 2 and {e["path"] for e in nav_errors} == {"$"}
    required = next(e for e in nav_errors if "required" in e["message"])
    assert "'isAnon'" in required["message"]
    assert required["description"] == "True if the user was anonymous; false if logged in."
    assert any("'surprise' was unexpected" in e["message"] for e in nav_errors)

    status, text = run(capsys, tmp_path, lines)  # the same, for people
    assert status == 1
    assert "line 2: CpuBenchmark 1.2.0: invalid (validation, 3 errors)" in text
    assert "  $.score: " in text and '    value: "fast"' in text
    assert "    description: If in mobile view" in text
    assert "line 1:" not in text  # valid events are only counted
    assert text.rstrip().endswith("3 events: 1 valid, 2 invalid")


def test_nested_paths_patterns_and_lengths(capsys, tmp_path):
    registry = tmp_path / "schemas" / "Demo"
    registry.mkdir(parents=True)
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "description": "one tag"}},
            "code": {"type": "string", "pattern": "^[a-z]+$", "description": "lower case"},
            "name": {"type": "string", "maxLength": 3, "description": "short name"},
        },
    }
    (registry / "1.json").write_text(json.dumps(schema))
    event = {"tags": ["ok", 7], "code": "ABC", "name": "toolong"}
    events = tmp_path / "bare.jsonl"
    events.write_text(json.dumps(event) + "\n")
    argv = ["validate", "--schemas", str(tmp_path / "schemas"), "--schema", "Demo"]
    status = cli.main([*argv, "--revision", "1", "--json", str(events)])
    assert status == 1
    (verdict,) = records(capsys.readouterr().out)
    found = {e["path"]: e for e in verdict["errors"]}
    assert set(found) == {"$.tags[1]", "$.code", "$.name"}
    assert found["$.tags[1]"]["description"] == "one tag" and found["$.tags[1]"]["value"] == "7"
    assert "does not match" in found["$.code"]["message"]
    assert found["$.code"]["description"] == "lower case"
    assert "too long" in found["$.name"]["message"]


def test_raw_varnish_lines(capsys, tmp_path):
    def varnish(capsule: dict, seq: int) -> bytes:
        query = "?" + quote_plus(json.dumps(capsule)) + ";"
        agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
        return f"{query} cp3062 {seq} 2026-11-28T05:00:00 198.51.100.7 {agent}".encode()

    nav = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
    lines = [
        varnish(dict(nav, event={"isAnon": True}), 1),
        varnish(dict(nav, event={"isAnon": "no"}), 2),
        b"not a varnish line",
    ]
    status, out = run(capsys, tmp_path, lines, "--format", VARNISH, "--json")
    assert status == 1
    verdicts = records(out)
    assert [v["code"] for v in verdicts] == ["valid", "validation", "parse"]
    assert verdicts[1]["errors"][0]["path"] == "$.isAnon"
    assert verdicts[2]["errors"][0]["message"] == "line does not match the input format"


def test_bare_events(capsys, tmp_path):
    argv = ["--schema", "NavigationTiming", "--revision", "1.7.0", "--json"]
    lines = [b'{"isAnon": true}', b'{"isAnon": 1}', b"{not json"]
    status, out = run(capsys, tmp_path, lines, *argv)
    assert status == 1
    verdicts = records(out)
    assert [v["code"] for v in verdicts] == ["valid", "validation", "parse"]
    assert all(v["schema"] == "NavigationTiming" for v in verdicts[:2])
    status, out = run(capsys, tmp_path, lines[:1], *argv)
    assert status == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--schema", "NavigationTiming"],  # without --revision
        ["--schema", "NavigationTiming", "--revision", "9.9"],  # not in the registry
        ["--format", "%x nonsense"],
        ["--schemas", "/nonexistent"],
    ],
)
def test_usage_errors_exit_2(capsys, tmp_path, argv):
    status, out = run(capsys, tmp_path, [b'{"isAnon": true}'], *argv)
    assert status == 2
    assert out == ""  # nothing judged


def test_a_missing_file_is_one_line_and_exit_2(capsys, tmp_path):
    status = cli.main(["validate", "--schemas", str(SCHEMAS), str(tmp_path / "nope")])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("el-monitor: cannot read") and len(err.splitlines()) == 1


def varnish_line(line: bytes, seq: int) -> bytes:
    """A line as varnish logs a client beacon: the capsule as %q, then the request's fields."""
    query = "?" + quote_plus(line.decode("utf-8", "replace")) + ";"
    return f"{query} cp3062 {seq} 2026-11-28T05:00:00 198.51.100.7 Mozilla/5.0".encode()


def compare(capsys, tmp_path: Path, lines: list[bytes], *argv: str, **settings) -> None:
    """validate --json and a real forwarder run on the same lines agree on every count."""
    result = forward(ListSource(lines), f"sqlite:///{tmp_path / 'el.db'}", **settings)
    status, out = run(capsys, tmp_path, lines, "--json", *argv)
    verdicts = records(out)
    assert len(verdicts) == len(lines)
    counts = result.counts
    assert sum(v["valid"] for v in verdicts) == counts.get(OVERALL, "valid") > 0
    assert sum(not v["valid"] for v in verdicts) == counts.get(OVERALL, "invalid") > 0
    assert status == 1
    judged = Counter((v["code"], v["path"]) for v in verdicts if not v["valid"])
    assert judged == Counter(counts.errors[OVERALL])
    per_schema = Counter(v["schema"] for v in verdicts if v["valid"])
    assert per_schema == {name: counts.get(name, "valid") for name in per_schema}


def test_verdicts_equal_the_forwarders(capsys, tmp_path):
    lines, expected = bad_corpus()
    compare(capsys, tmp_path, lines)
    status, out = run(capsys, tmp_path, lines, "--json")
    judged = Counter((v["code"], v["path"]) for v in records(out) if not v["valid"])
    assert judged == expected["errors"]  # and both are what the corpus was built to give


def test_verdicts_on_varnish_lines_equal_the_forwarders(capsys, tmp_path):
    corpus, _ = bad_corpus()
    lines = [varnish_line(line, i) for i, line in enumerate(corpus) if len(line) < 4096]
    lines.append(b"garbage that is no varnish line")
    compare(capsys, tmp_path, lines, "--format", VARNISH, format=VARNISH)
