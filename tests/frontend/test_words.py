"""How the dashboard words times, counts and values (frontend/templatetags/dashboard.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from docks.models import UNIVERSAL_MODELS
from frontend.templatetags.dashboard import (
    clock,
    count_of,
    duration,
    next_time,
    reltime,
    show,
    table_title,
)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", str(html))


@given(st.integers(-10 * 86400, 10 * 86400))
def test_relative_times_never_say_zero_of_anything(offset):
    text = _text(reltime(timezone.now() + timedelta(seconds=offset)))
    assert not re.search(r"\b0\s+(minutes|hours|days|seconds)", text), text
    if -55 < offset <= 0:
        assert text == "just now"
    if 0 < offset < 55:
        assert text == "in under a minute"
    if offset > 70:
        assert text.startswith("in ") and "ago" not in text


@given(st.integers(-10 * 86400, 10 * 86400))
def test_a_due_time_in_the_past_is_due_now_not_in_the_past(offset):
    text = _text(next_time(timezone.now() + timedelta(seconds=offset)))
    assert ("due now" == text) == (offset < 55) or 55 <= offset <= 65
    assert "ago" not in text and not re.search(r"\bin 0 ", text)


def test_times_of_day_name_their_zone():
    html = str(clock(timezone.now()))
    assert re.search(r'data-local="time">\d\d:\d\d:\d\d UTC</time>', html)


def test_counts_and_table_names_read_as_the_menu_does():
    for table in UNIVERSAL_MODELS:
        assert "-" not in table_title(table)
        assert re.fullmatch(r"1 [a-z ]+[^s]", count_of(1, table)), count_of(1, table)
        assert count_of(2, table).endswith("s")
    assert table_title("web-services") == "Web services"
    assert count_of(1, "servers") == "1 server" and count_of(0, "servers") == "0 servers"


WORDS = st.text("abc xyz", max_size=5)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | WORDS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3),
    )
)
def test_values_never_show_python_words(value):
    assert not re.search(r"True|False|None", show(value)), show(value)


def test_values_in_words():
    assert show(True) == "yes" and show(False) == "no" and show(None) == "—"
    assert show(["a", "b"]) == "a, b" and show({"env": "prod"}) == "env=prod"
    assert (
        duration(3600) == "1 hour"
        and duration(90) == "90 seconds"
        and duration(120) == ("2 minutes")
    )
