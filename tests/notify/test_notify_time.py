"""A bad ``--time`` (issue 10, item 9), through the command and a real SMTP server.

Icinga passes ``$icinga.timet$``, always digits, so text that is no number at all is a mistake
made by hand: one clear line, exit 2.  A number no calendar can show is a time the alert itself
carries: the alert still goes out, showing when it was sent, with a note saying why.
"""

from __future__ import annotations

import pytest

from .support import PROBLEM_FLAGS, parts, run_cli


@pytest.mark.parametrize("stamp", ["253402300800", "1e20", "-1", "1e400", "99999999999999999999"])
def test_a_time_no_calendar_shows_still_mails_with_a_note(catalog_path, inbox, capsys, stamp):
    status = run_cli("notify", "--config", str(catalog_path), *PROBLEM_FLAGS, f"--time={stamp}")
    assert status == 0, capsys.readouterr().err
    mails = inbox.take()
    assert len(mails) == 2  # perf-team and ops: nobody's alert is lost
    for _, message in mails:
        text, html, _ = parts(message)
        note = f"The notification gave the time '{stamp}', which is not a date between 1970"
        assert note in text and note.replace("'", "&#39;") in html
        assert " UTC" in text


def test_the_last_second_of_year_9999_is_a_time(catalog_path, inbox):
    assert (
        run_cli("notify", "--config", str(catalog_path), *PROBLEM_FLAGS, "--time", "253402300799")
        == 0
    )
    text, _, _ = parts(inbox.take()[0][1])
    assert "9999-12-31 23:59:59 UTC" in text and "not a date" not in text


@pytest.mark.parametrize("stamp", ["nan", "inf", "-inf", "yesterday", "12:00", "0x10"])
def test_text_that_is_no_number_is_one_usage_line(catalog_path, inbox, capsys, stamp):
    status = run_cli("notify", "--config", str(catalog_path), *PROBLEM_FLAGS, f"--time={stamp}")
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [
        f"el-monitor: --time {stamp!r} is not a Unix time in seconds, such as 1764720000"
    ]
    assert inbox.take() == []


def test_a_bad_time_from_icinga_environment_also_mails(catalog_path, inbox, monkeypatch):
    monkeypatch.setenv("EL_NOTIFY_TIME", "1e20")
    assert run_cli("notify", "--config", str(catalog_path), *PROBLEM_FLAGS) == 0
    text, _, _ = parts(inbox.take()[0][1])
    assert "The notification gave the time '1e20'" in text
