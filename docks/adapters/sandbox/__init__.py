"""The sandbox provider (no cloud): see ``adapter.py``."""

from __future__ import annotations

from .adapter import (
    REGION,
    SandboxAdapter,
    SandboxCredentials,
    SandboxSpec,
    SimulatedCrash,
)
from .backend import (
    InMemorySandboxBackend,
    NameTaken,
    SandboxBackend,
    SandboxRecord,
    default_backend,
)

__all__ = [
    "REGION",
    "InMemorySandboxBackend",
    "NameTaken",
    "SandboxAdapter",
    "SandboxBackend",
    "SandboxCredentials",
    "SandboxRecord",
    "SandboxSpec",
    "SimulatedCrash",
    "default_backend",
]
