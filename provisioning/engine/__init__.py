"""StackDock's provisioning engine (pure Python, no Django).

Modules: ``spec`` (parse/check stack documents), ``graph`` (dependency DAG),
``registry`` (providers and resource types), ``state`` (records, lock,
stores), ``lifecycle`` (one resource through its adapter), ``planner`` and
``orchestrator`` (plan/apply/destroy/refresh). See docs/ENGINE.md.
"""

from __future__ import annotations

from .errors import (
    CycleError,
    EngineError,
    LockLost,
    SpecError,
    StackLocked,
    StepError,
    UnknownProvider,
    UnknownResourceType,
)
from .graph import Graph
from .lifecycle import Diff, ResourceManager, RetryPolicy, diff
from .orchestrator import DeploymentOrchestrator
from .registry import Registry, registry
from .results import AppliedResource, Change, Event, Plan, RemovedResource, Result
from .spec import ResourceSpec, StackSpec, parse_stack
from .state import (
    InMemoryStateStore,
    LockInfo,
    ResourceState,
    ResourceStatus,
    StateManager,
    StateStore,
    StateVersion,
)

__all__ = [
    "AppliedResource",
    "Change",
    "CycleError",
    "DeploymentOrchestrator",
    "Diff",
    "EngineError",
    "Event",
    "Graph",
    "InMemoryStateStore",
    "LockInfo",
    "LockLost",
    "Plan",
    "Registry",
    "RemovedResource",
    "ResourceManager",
    "ResourceSpec",
    "ResourceState",
    "ResourceStatus",
    "Result",
    "RetryPolicy",
    "SpecError",
    "StackLocked",
    "StackSpec",
    "StateManager",
    "StateStore",
    "StateVersion",
    "StepError",
    "UnknownProvider",
    "UnknownResourceType",
    "diff",
    "parse_stack",
    "registry",
]
