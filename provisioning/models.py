"""Stacks, operations and engine state (see docs/ENGINE.md)."""

from __future__ import annotations
