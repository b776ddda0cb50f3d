"""``unknown_name``: an unknown name is answered with the names there are and a guess."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stackdock.utils.suggest import closest, unknown_name

NAMES = st.lists(
    st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12),
    min_size=1,
    max_size=8,
    unique_by=str.lower,
)


@given(NAMES, st.data())
def test_a_name_in_another_case_is_found(names, data):
    name = data.draw(st.sampled_from(names))
    assert closest(name.swapcase(), names) == name


@given(NAMES, st.text(max_size=12))
def test_the_message_names_the_word_and_every_option(names, word):
    message = unknown_name("dock", word, names)
    assert message.startswith(f"unknown dock {word!r}")
    assert all(repr(n) in message for n in names)
    guess = closest(word, names)
    assert ("did you mean" in message) == (guess is not None and guess != word)


def test_no_options_says_there_are_none():
    assert unknown_name("dock", "x", []) == "unknown dock 'x': there is no dock yet."
    assert unknown_name("dock", "sandbx", ["Sandbox", "aws"]) == (
        "unknown dock 'sandbx': did you mean 'Sandbox'? The docks here: 'aws', 'Sandbox'."
    )
