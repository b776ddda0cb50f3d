"""Telling a person which names exist when the one they gave does not."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, options: Iterable[str]) -> str | None:
    """The option ``word`` most likely meant (case and small typos forgiven), or None."""
    names = list(options)
    by_lower = {n.lower(): n for n in names}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def unknown_name(kind: str, word: str, options: Iterable[str]) -> str:
    """``unknown dock 'sandbox': did you mean 'Sandbox'? The docks here: 'Sandbox'.``"""
    names = sorted(options, key=str.lower)
    text = f"unknown {kind} {word!r}"
    guess = closest(word, names)
    if guess is not None and guess != word:
        text += f": did you mean {guess!r}?"
    if names:
        listed = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
        return f"{text} The {kind}s here: {listed}."
    return f"{text}: there is no {kind} yet."
