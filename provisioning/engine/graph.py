"""The dependency DAG between a stack's resources.

Ordering and cycle detection are ``graphlib.TopologicalSorter``'s; this
module adds the transitive closures used for targeted operations. Every
function here is linear in nodes + edges.
"""

from __future__ import annotations

import graphlib
from collections.abc import Collection, Iterable, Mapping

from .errors import CycleError


class Graph:
    """``node -> the nodes it depends on``; edges to unknown nodes are dropped."""

    def __init__(self, dependencies: Mapping[str, Iterable[str]]) -> None:
        self._deps: dict[str, tuple[str, ...]] = {}
        self._rdeps: dict[str, list[str]] = {name: [] for name in dependencies}
        for name, deps in dependencies.items():
            kept = tuple(dict.fromkeys(d for d in deps if d in self._rdeps))
            self._deps[name] = kept
            for dep in kept:
                self._rdeps[dep].append(name)

    def __contains__(self, name: object) -> bool:
        return name in self._deps

    def __len__(self) -> int:
        return len(self._deps)

    @property
    def nodes(self) -> list[str]:
        return list(self._deps)

    def dependencies(self, name: str) -> tuple[str, ...]:
        """Direct dependencies of ``name``."""
        return self._deps[name]

    def dependents(self, name: str) -> tuple[str, ...]:
        """Nodes that depend directly on ``name``."""
        return tuple(self._rdeps[name])

    def find_cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, ..., a]`` where each depends on the next, or None."""
        try:
            graphlib.TopologicalSorter(self._deps).prepare()
        except graphlib.CycleError as exc:
            # graphlib lists it against the edge direction; flip it to read
            # "a depends on b depends on ... a".
            return list(reversed(exc.args[1]))
        return None

    def check(self) -> None:
        """Raise CycleError naming the cycle, if there is one."""
        cycle = self.find_cycle()
        if cycle is not None:
            raise CycleError(cycle)

    def order(self) -> list[str]:
        """Dependencies before dependents."""
        try:
            return list(graphlib.TopologicalSorter(self._deps).static_order())
        except graphlib.CycleError as exc:
            raise CycleError(list(reversed(exc.args[1]))) from None

    def dependencies_of(self, names: Iterable[str]) -> set[str]:
        """``names`` and everything they depend on, transitively (targeted apply)."""
        return _closure(names, self._deps)

    def dependents_of(self, names: Iterable[str]) -> set[str]:
        """``names`` and everything depending on them, transitively (targeted destroy)."""
        return _closure(names, self._rdeps)

    def sorter_input(self, subset: Collection[str] | None = None) -> dict[str, tuple[str, ...]]:
        """Input for a ``TopologicalSorter`` that runs dependencies first."""
        if subset is None:
            return dict(self._deps)
        return {n: tuple(d for d in self._deps[n] if d in subset) for n in subset}

    def reverse_sorter_input(
        self, subset: Collection[str] | None = None
    ) -> dict[str, tuple[str, ...]]:
        """Input for a ``TopologicalSorter`` that runs dependents first (deletes)."""
        nodes = self._deps if subset is None else subset
        return {n: tuple(d for d in self._rdeps[n] if d in nodes) for n in nodes}


def _closure(start: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [n for n in start if n in edges]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n in edges[node] if n not in seen)
    return seen
