from __future__ import annotations

import pytest

from provisioning.engine import CycleError, Graph


def test_order_puts_dependencies_first() -> None:
    graph = Graph({"web": ["db", "cache"], "db": [], "cache": ["db"], "dns": ["web"]})
    order = graph.order()
    assert order.index("db") < order.index("cache") < order.index("web") < order.index("dns")


def test_cycle_is_named_in_dependency_direction() -> None:
    graph = Graph({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    with pytest.raises(CycleError) as info:
        graph.check()
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    # each element depends on the next one
    for here, there in zip(cycle, cycle[1:], strict=False):
        assert there in graph.dependencies(here)
    assert "dependency cycle: " in str(info.value)


def test_self_dependency_is_a_cycle() -> None:
    assert Graph({"a": ["a"]}).find_cycle() == ["a", "a"]


def test_edges_to_unknown_nodes_are_dropped() -> None:
    graph = Graph({"a": ["ghost"]})
    assert graph.dependencies("a") == ()
    assert graph.order() == ["a"]


def test_dependencies_of_is_transitive_and_includes_targets() -> None:
    graph = Graph({"a": ["b"], "b": ["c"], "c": [], "x": ["c"]})
    assert graph.dependencies_of(["a"]) == {"a", "b", "c"}
    assert graph.dependencies_of(["x"]) == {"x", "c"}


def test_dependents_of_is_transitive_and_includes_targets() -> None:
    graph = Graph({"a": ["b"], "b": ["c"], "c": [], "x": ["c"]})
    assert graph.dependents_of(["c"]) == {"a", "b", "c", "x"}
    assert graph.dependents_of(["a"]) == {"a"}


def test_reverse_sorter_input_puts_dependents_first() -> None:
    import graphlib

    graph = Graph({"a": ["b"], "b": ["c"], "c": []})
    order = list(graphlib.TopologicalSorter(graph.reverse_sorter_input()).static_order())
    assert order == ["a", "b", "c"]


def test_closures_are_linear_on_a_long_chain() -> None:
    n = 20_000
    graph = Graph({f"n{i}": ([f"n{i - 1}"] if i else []) for i in range(n)})
    assert len(graph.dependencies_of([f"n{n - 1}"])) == n
    assert len(graph.dependents_of(["n0"])) == n
    assert len(graph.order()) == n
