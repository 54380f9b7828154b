"""Schema registries, the draft-3 translation, compiled validators' errors and robustness."""

from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from el_monitor.errors import SchemaError, UserError
from el_monitor.schema.compiled import CompiledSchema, compile_schema
from el_monitor.schema.draft import DRAFT7_URI, effective_schema
from el_monitor.schema.registry import DirectoryRegistry, HttpRegistry, open_registry
from el_monitor.schema.runtime import ValidationFailure

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"  # bundled copy of ../shared
D3 = "http://json-schema.org/draft-03/schema#"
# Under EventLogging's top-level additionalProperties: false these published examples carry a
# property their schema does not declare (ULS even *requires* the undeclared 'token').
UNDECLARED = {"MediaWikiPingback": "wiki", "UniversalLanguageSelector": "token"}


@pytest.fixture(scope="module")
def shared() -> Path:
    return EXAMPLES


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# --- DirectoryRegistry ---------------------------------------------------------------------


def test_shared_registry_lists_and_compiles_every_schema(shared):
    registry = DirectoryRegistry(shared / "schemas")
    revisions = registry.revisions()
    assert len(revisions) == 55 and revisions == sorted(revisions)
    assert ("NavigationTiming", "1.7.0") in revisions
    for name, revision in revisions:
        compiled = registry.get(name, revision)
        assert isinstance(compiled, CompiledSchema)
        assert compiled.schema["additionalProperties"] is False
        assert registry.get(name, revision) is compiled  # compiled once


def test_every_shared_example_validates(shared):
    registry = DirectoryRegistry(shared / "schemas")
    checked = 0
    for file in sorted((shared / "samples").glob("*.jsonl")):
        for line in file.read_text().splitlines():
            capsule = json.loads(line)
            compiled = registry.get(capsule["schema"], capsule["revision"])
            failure = compiled.validate(capsule["event"])
            if capsule["schema"] in UNDECLARED:
                undeclared = UNDECLARED[capsule["schema"]]
                assert failure == ValidationFailure("$", f"unexpected property {undeclared!r}")
                open_schema = {**compiled.schema, "additionalProperties": True}
                failure = compile_schema("Open", "1", open_schema).validate(capsule["event"])
            assert failure is None, (capsule["schema"], failure)
            checked += 1
    assert checked == 56


def test_yaml_schemas(tmp_path):
    pytest.importorskip("yaml")
    write(
        tmp_path / "Y" / "1.0.0.yaml",
        "type: object\nrequired: [a]\nproperties:\n  a: {type: integer}\n",
    )
    write(tmp_path / "Y" / "2.yml", "properties: {b: {type: string}}\n")
    registry = DirectoryRegistry(tmp_path)
    assert registry.revisions() == [("Y", "1.0.0"), ("Y", "2")]
    assert registry.get("Y", "1.0.0").validate({"a": 1}) is None
    assert registry.get("Y", "1.0.0").validate({"a": "1"}).path == "$.a"
    assert registry.get("Y", "2").validate({"b": 2}).message == "expected string, got integer"


BAD_NAMES = [
    ("../etc", "1"), ("", "1"), ("A", ""), ("A/B", "1"), ("A", "../../x"), ("A", "1/2"),
    ("Robert'); DROP TABLE events;--", "1"), ("<script>alert(1)</script>", "1"), ("A", "1 OR 1=1"),
    ("x" * 64, "1"), ("A", "1" * 64), ("A\n", "1"), ("A", "1\n"), ("A\x00", "1"), ("Ä", "1"),
    (None, "1"), ("A", 1), (["A"], "1"), ("A", {"r": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "revision"), BAD_NAMES)
def test_untrusted_names_are_unknown(tmp_path, name, revision):
    write(tmp_path / "etc" / "1.json", {"type": "object"})  # what '../etc' would reach
    write(tmp_path / "schemas" / "A" / "1.json", {"type": "object"})
    registry = DirectoryRegistry(tmp_path / "schemas")
    assert registry.get(name, revision) is None
    assert registry.get("A", "1") is not None


def test_unknown_schema_is_none_and_retried_after_the_negative_ttl(tmp_path):
    registry = DirectoryRegistry(tmp_path, negative_ttl=0.0)
    assert registry.get("Late", "1") is None
    write(tmp_path / "Late" / "1.json", {})
    assert registry.get("Late", "1") is not None
    cached = DirectoryRegistry(tmp_path, negative_ttl=3600)
    assert cached.get("Later", "1") is None
    write(tmp_path / "Later" / "1.json", {})
    assert cached.get("Later", "1") is None  # remembered as missing


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"properties": {"a": {"type": "strin"}}}), "#/properties/a/type"),
        (json.dumps({"properties": {"a": {"minimum": "0"}}}), "#/properties/a/minimum"),
        (json.dumps({"properties": {"a": {"pattern": "("}}}), "invalid regular expression"),
        (json.dumps({"required": "a"}), "#/required"),
        (json.dumps({"$ref": "http://example.com/s.json"}), "only local references"),
        (json.dumps({"$ref": "#/definitions/missing"}), "cannot resolve"),
        (json.dumps({"anyOf": []}), "#/anyOf"),
        (json.dumps({"multipleOf": 0}), "#/multipleOf"),
    ],
)
def test_broken_schema_file_raises_schema_error_naming_the_file(tmp_path, content, reason):
    file = write(tmp_path / "Broken" / "1.0.0.json", content)
    registry = DirectoryRegistry(tmp_path)
    for _ in range(2):  # the failure is remembered, and raised again
        with pytest.raises(SchemaError) as caught:
            registry.get("Broken", "1.0.0")
        assert str(file) in str(caught.value) and reason in str(caught.value)


def test_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        DirectoryRegistry(tmp_path / "nope")
    write(tmp_path / "file", "")
    with pytest.raises(UserError, match="not a directory"):
        DirectoryRegistry(tmp_path / "file")


# --- HttpRegistry --------------------------------------------------------------------------


class Repository:
    """A schema repository on 127.0.0.1: a stdlib HTTP server in a thread."""

    def __init__(self, files: dict[str, object]) -> None:
        self.files = {path: json.dumps(body).encode() for path, body in files.items()}
        self.requests: list[str] = []
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                repo.requests.append(self.path)
                body = repo.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/schemas/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def repository():
    repo = Repository(
        {
            "/schemas/Edit/1.0.0.json": {
                "required": ["action"], "properties": {"action": {"enum": ["a", "b"]}}
            },
            "/schemas/Bad/1.json": {"type": "nonsense"},
        }
    )  # fmt: skip
    yield repo
    repo.stop()


def test_http_registry_fetches_caches_and_serves_from_cache_when_down(tmp_path, repository):
    registry = HttpRegistry(repository.url, tmp_path / "cache", timeout=2)
    compiled = registry.get("Edit", "1.0.0")
    assert compiled.validate({"action": "c"}) == ValidationFailure(
        "$.action", "'c' is not one of ['a', 'b']"
    )
    assert registry.get("Edit", "1.0.0") is compiled
    assert (tmp_path / "cache" / "Edit" / "1.0.0.json").is_file()
    assert repository.requests == ["/schemas/Edit/1.0.0.json"]
    repository.stop()
    restarted = HttpRegistry(repository.url, tmp_path / "cache", timeout=2)
    assert restarted.get("Edit", "1.0.0").validate({"action": "a"}) is None
    assert restarted.revisions() == [("Edit", "1.0.0")]


def test_http_registry_unknown_and_broken(tmp_path, repository, caplog):
    registry = HttpRegistry(repository.url, tmp_path, timeout=2)
    assert registry.get("Nope", "1") is None
    assert registry.get("Nope", "1") is None
    assert repository.requests.count("/schemas/Nope/1.json") == 1  # remembered negatively
    assert registry.get("../Edit", "1.0.0") is None
    with pytest.raises(SchemaError, match=r"/schemas/Bad/1\.json.*#/type"):
        registry.get("Bad", "1")
    assert not (tmp_path / "Bad" / "1.json").exists()  # never cache what does not compile
    repository.stop()
    with caplog.at_level(logging.WARNING, logger="el_monitor.schema.registry"):
        assert registry.get("Edit", "1.0.0") is None  # unreachable: None and a warning
    assert "unreachable" in caplog.text


def test_http_registry_rejects_bad_urls(tmp_path):
    with pytest.raises(UserError, match="http"):
        HttpRegistry("file:///etc", tmp_path)


def test_open_registry_picks_the_kind_from_the_location(tmp_path):
    assert isinstance(open_registry(str(tmp_path), tmp_path / "unused"), DirectoryRegistry)
    assert not (tmp_path / "unused").exists()
    http = open_registry("http://127.0.0.1:9/schemas", tmp_path / "cache")
    assert isinstance(http, HttpRegistry) and (tmp_path / "cache").is_dir()
    with pytest.raises(UserError, match="nope"):
        open_registry(str(tmp_path / "nope"), tmp_path)


# --- draft 3 → draft 07 --------------------------------------------------------------------


def eff(schema: dict) -> dict:
    out = effective_schema({"$schema": D3, **schema})
    assert out.pop("$schema") == DRAFT7_URI
    return out


def test_draft3_required_true_moves_to_the_parent():
    schema = {
        "properties": {
            "a": {"type": "string", "required": True},
            "b": {"type": "string", "required": False},
            "c": {"type": "object", "properties": {"d": {"required": True}}},
        }
    }
    assert eff(schema) == {
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "string"},
            "c": {"type": "object", "properties": {"d": {}}, "required": ["d"]},
        },
        "required": ["a"],
        "additionalProperties": False,
    }


def test_draft3_is_detected_without_schema_from_boolean_required():
    out = effective_schema({"properties": {"a": {"required": True}}})
    assert out["required"] == ["a"] and out["$schema"] == DRAFT7_URI


def test_draft3_type_any_and_union_types():
    assert eff({"type": "any"}) == {"additionalProperties": False}
    assert eff({"type": ["string", "any"]}) == {"additionalProperties": False}
    assert eff({"type": ["string", "null"]})["type"] == ["string", "null"]
    assert eff({"type": ["integer", {"type": "string", "maxLength": 2}]})["anyOf"] == [
        {"type": "integer"},
        {"type": "string", "maxLength": 2},
    ]


def test_draft3_divisible_by_disallow_extends_dependencies():
    assert eff({"divisibleBy": 3})["multipleOf"] == 3
    assert eff({"disallow": "string"})["not"] == {"type": ["string"]}
    assert eff({"disallow": ["any"]})["not"] == {}
    assert eff({"disallow": [{"type": "integer", "required": True}, "null"]})["not"] == {
        "anyOf": [{"type": "integer"}, {"type": "null"}]
    }
    assert eff({"extends": {"type": "integer"}})["allOf"] == [{"type": "integer"}]
    assert eff({"extends": [{"minimum": 1}, {"maximum": 2}]})["allOf"] == [
        {"minimum": 1},
        {"maximum": 2},
    ]
    assert eff({"dependencies": {"a": "b", "c": ["d"], "e": {"properties": {"f": {}}}}})[
        "dependencies"
    ] == {"a": ["b"], "c": ["d"], "e": {"properties": {"f": {}}}}


def test_boolean_exclusive_bounds_become_numbers():
    for draft in (D3, "http://json-schema.org/draft-04/schema#"):
        out = effective_schema(
            {
                "$schema": draft,
                "properties": {
                    "a": {"minimum": 1, "exclusiveMinimum": True},
                    "b": {"maximum": 9, "exclusiveMaximum": True, "minimum": 0},
                    "c": {"minimum": 1, "exclusiveMinimum": False},
                    "d": {"exclusiveMaximum": True},
                },
            }
        )
        assert out["properties"] == {
            "a": {"exclusiveMinimum": 1},
            "b": {"minimum": 0, "exclusiveMaximum": 9},
            "c": {"minimum": 1},
            "d": {},
        }


def test_translation_recurses_and_drops_keywords_the_draft_did_not_have():
    out = eff(
        {
            "items": {"properties": {"a": {"required": True, "type": "any"}}},
            "additionalProperties": {"divisibleBy": 2},
            "patternProperties": {"^x": {"extends": {"type": "string"}}},
            "definitions": {"d": {"disallow": "null"}},
            "anyOf": [{"type": "string"}],
            "minProperties": 3,
        }
    )
    assert out == {
        "items": {"properties": {"a": {}}, "required": ["a"]},
        "additionalProperties": {"multipleOf": 2},
        "patternProperties": {"^x": {"allOf": [{"type": "string"}]}},
        "definitions": {"d": {"not": {"type": ["null"]}}},
    }


def test_top_level_additional_properties_default_and_input_untouched():
    raw = {"$schema": DRAFT7_URI, "properties": {"a": {}}}
    assert effective_schema(raw)["additionalProperties"] is False
    assert "additionalProperties" not in raw
    assert effective_schema({**raw, "additionalProperties": True})["additionalProperties"] is True
    assert "additionalProperties" not in effective_schema(raw)["properties"]["a"]


# --- compiled validators: errors ----------------------------------------------------------

PERFORMER = {
    "type": "object",
    "required": ["isAnon", "tests"],
    "properties": {
        "isAnon": {"type": "boolean"},
        "action": {"type": "string", "enum": ["view", "submit"]},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "performer": {"type": "object", "properties": {"user_id": {"type": "integer"}}},
        "tests": {
            "type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}
        },
        "odd key": {"type": "string", "maxLength": 2},
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("event", "path", "message"),
    [
        ([], "$", "expected object, got array"),
        ({"tests": []}, "$", "missing required property 'isAnon'"),
        ({"isAnon": 1, "tests": []}, "$.isAnon", "expected boolean, got integer"),
        ({"isAnon": True, "tests": [], "x": 1}, "$", "unexpected property 'x'"),
        ({"isAnon": True, "tests": [], "action": "foo"}, "$.action",
         "'foo' is not one of ['view', 'submit']"),
        ({"isAnon": True, "tests": [], "count": "3"}, "$.count", "expected integer, got string"),
        ({"isAnon": True, "tests": [], "count": True}, "$.count", "expected integer, got boolean"),
        ({"isAnon": True, "tests": [], "count": 11}, "$.count",
         "11 is greater than the maximum of 10"),
        ({"isAnon": True, "tests": [], "count": -1.0}, "$.count",
         "-1.0 is less than the minimum of 0"),
        ({"isAnon": True, "tests": [], "performer": {"user_id": 1.5}}, "$.performer.user_id",
         "expected integer, got number"),
        ({"isAnon": True, "tests": [{}, {}, {"name": None}]}, "$.tests[2].name",
         "expected string, got null"),
        ({"isAnon": True, "tests": [], "odd key": "abc"}, "$['odd key']",
         "expected at most 2 characters, got 3"),
    ],
)  # fmt: skip
def test_failure_paths_and_messages(event, path, message):
    assert compile_schema("P", "1", PERFORMER).validate(event) == ValidationFailure(path, message)


def test_valid_values_including_integral_floats():
    validate = compile_schema("P", "1", PERFORMER).validate
    assert validate({"isAnon": False, "tests": [{"name": "a"}], "count": 3.0}) is None


def test_messages_stay_short_for_huge_values():
    validate = compile_schema("E", "1", {"properties": {"a": {"enum": ["x"]}}}).validate
    failure = validate({"a": "y" * 1_000_000})
    assert len(failure.message) < 100
    assert validate({"a": 10**5000}).message == "<16610-bit integer> is not one of ['x']"


def test_draft3_integer_accepts_integral_floats_after_translation():
    """Known gap: draft 3/4 said 3.0 is not an integer; draft 07 (and we) accept it."""
    validate = compile_schema("D", "1", {"$schema": D3, "properties": {"a": {"type": "integer"}}})
    assert validate.validate({"a": 3.0}) is None
    assert validate.validate({"a": 3.5}) is not None


# --- compiled validators: hostile input never raises --------------------------------------


def deep(depth: int, make=lambda inner: [inner]) -> object:
    value: object = 1
    for _ in range(depth):
        value = make(value)
    return value


ROBUST_SCHEMAS = [
    {"properties": {"a": {"type": "string"}}},
    {"properties": {"a": {"items": {"items": {"type": "integer"}}}}},
    {"properties": {"a": {"uniqueItems": True}}},
    {"properties": {"a": {"enum": [[[1]], {"b": [2]}]}}},
    {"properties": {"a": {"const": [[1]]}}},
    {"properties": {"a": {"not": {"type": "array"}}}},
    {"properties": {"a": {"$ref": "#/definitions/tree"}},
     "definitions": {"tree": {"type": ["array", "integer"],
                              "items": {"$ref": "#/definitions/tree"}}}},
]  # fmt: skip


@pytest.mark.parametrize("schema", ROBUST_SCHEMAS, ids=lambda s: json.dumps(s)[:50])
def test_deeply_nested_values_never_raise(schema):
    validate = compile_schema("R", "1", schema).validate
    nested_list = deep(100_000)
    nested_dict = deep(100_000, lambda inner: {"b": inner})
    for value in (nested_list, [nested_list, deep(100_000)], nested_dict, [nested_dict] * 2):
        result = validate({"a": value})
        assert result is None or isinstance(result, ValidationFailure)


def test_recursive_ref_on_data_deeper_than_the_stack_is_a_failure_not_a_crash():
    schema = ROBUST_SCHEMAS[-1]
    failure = compile_schema("R", "1", schema).validate({"a": deep(sys.getrecursionlimit() * 2)})
    assert failure == ValidationFailure("$", "value is nested too deeply to validate")
    assert compile_schema("R", "1", schema).validate({"a": deep(50)}) is None


def test_non_json_python_values_never_raise():
    validate = compile_schema("R", "1", {"patternProperties": {"^a": {"type": "string"}}}).validate
    assert validate({1: "x", (2, 3): None}).message == "cannot validate value: TypeError"
    assert validate(object()) is None  # not an object: the keywords do not apply
    nan = compile_schema("N", "1", {"properties": {"a": {"multipleOf": 0.5}}}).validate
    assert nan({"a": float("nan")}).path == "$.a"
    assert nan({"a": float("inf")}).path == "$.a"
    assert nan({"a": 10**400}) is None


def test_deeply_nested_schema_is_a_schema_error():
    with pytest.raises(SchemaError, match="nested too deeply"):
        compile_schema("D", "1", deep(50_000, lambda inner: {"items": inner}))


# --- dialects and the jsonschema fallback ---------------------------------------------------


def test_modern_dialect_compiles_when_it_uses_draft7_keywords():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"a": {"type": "integer"}},
    }
    compiled = compile_schema("M", "1", schema)
    assert compiled.validate({"a": "x"}) == ValidationFailure("$.a", "expected integer, got string")
    assert "source" in vars(compiled.validate)  # our generated code, not jsonschema


def test_modern_keywords_fall_back_to_jsonschema():
    pytest.importorskip("jsonschema")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "prefixItems": [{"type": "string"}],
        "items": {"type": "integer"},
    }
    validate = compile_schema("M", "1", schema).validate
    assert validate(["a", 1, 2]) is None
    assert validate(["a", 1, "b"]).path == "$[2]"
    assert validate([1]).path == "$[0]"


def test_fallback_without_jsonschema_names_the_keyword(monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # as if it were not installed
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "unevaluatedProperties": False,
    }
    with pytest.raises(SchemaError, match="'unevaluatedProperties' needs the jsonschema package"):
        compile_schema("M", "1", schema)
