"""The matcher the forwarder drops opted-out events with: users found in nested fields, by
integer or digit string of any length, on the right wiki only, and the same answer as the
hmac module for any key length."""

from __future__ import annotations

import pytest

from el_monitor.optout.matcher import OptOutMatcher

from .support import SECRET, TOKEN, capsule, catalog, reference


@pytest.mark.parametrize("secret", [b"k", b"k" * 64, b"k" * 65, bytes(range(200))])
def test_matcher_hmac_agrees_with_hmac_module_for_any_key_length(secret):
    hashes = frozenset({reference(secret, "enwiki", "token", TOKEN)})
    matcher = OptOutMatcher(secret, hashes, catalog(T=("token",)))
    assert matcher.matches(capsule("T", {"token": TOKEN}))
    assert not matcher.matches(capsule("T", {"token": TOKEN + "x"}))


def test_matcher_finds_users_in_nested_fields_by_int_or_digit_string():
    hashes = frozenset(
        {
            reference(SECRET, "enwiki", "user-id", "42"),
            reference(SECRET, "enwiki", "token", "t-1"),
            reference(SECRET, "enwiki", "user-id", "1"),
        }
    )
    cat = catalog(Edit=("performer.user_id", "userId", "session.token"))
    m = OptOutMatcher(SECRET, hashes, cat)
    assert m.active
    assert m.matches(capsule("Edit", {"performer": {"user_id": 42}}))
    assert m.matches(capsule("Edit", {"performer": {"user_id": "0042"}}))  # named like an id
    assert m.matches(capsule("Edit", {"userId": "42"}))
    assert m.matches(capsule("Edit", {"userId": 42.0}))
    assert m.matches(capsule("Edit", {"session": {"token": "t-1"}}))
    assert not m.matches(capsule("Edit", {"performer": {"user_id": 42}}, wiki="dewiki"))
    assert not m.matches(capsule("Edit", {"session": {"token": "42"}}))  # a token, not an id
    assert not m.matches(capsule("Edit", {"userId": True}))  # not user 1
    assert not m.matches(capsule("Edit", {"performer": "42", "session": None}))
    assert not m.matches(capsule("Edit", {"userId": [42], "session": {"token": {"x": 1}}}))
    assert not m.matches(capsule("Other", {"userId": 42}))  # no user_fields: never matches
    assert not m.matches({"schema": "Edit", "wiki": "enwiki", "event": "garbage"})


def test_matcher_takes_digit_strings_of_any_length():
    hashes = frozenset({reference(SECRET, "enwiki", "user-id", "42")})
    check = OptOutMatcher(SECRET, hashes, catalog(E=("user_id",))).check_for(("user_id",))
    assert check(capsule("E", {"user_id": "0" * 5000 + "42"}))
    assert not check(capsule("E", {"user_id": "1" * 5000}))  # int() would refuse it
    assert not check(capsule("E", {"user_id": "000"}))


def test_matcher_on_an_empty_list_is_constant_false():
    m = OptOutMatcher(SECRET, frozenset(), catalog(Edit=("user_id",)))
    assert not m.active
    assert not m.matches(capsule("Edit", {"user_id": 42}))


def test_matcher_answers_stay_right_over_many_values_and_rounds():
    hashes = frozenset({reference(SECRET, "enwiki", "token", "t-7")})
    check = OptOutMatcher(SECRET, hashes, catalog(T=("token",))).check_for(("token",))
    for round_ in range(3):
        for i in range(1000):
            assert check(capsule("T", {"token": f"t-{i}"})) == (i == 7), (round_, i)
