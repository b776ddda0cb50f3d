"""Desired spec vs recorded state: what must change, and in which order.

Shared by ``plan`` (read-only, no provider call) and ``apply`` (which makes
the final create/update/replace/no-op decision for each resource right
before its step, once the outputs it references are known).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from docks.adapters.base import CENSOR, ResourceType

from .errors import SpecError
from .graph import Graph
from .lifecycle import Diff, diff
from .references import UNKNOWN, contains_unknown, display, resolve
from .registry import Registry
from .results import ACTIONS, Change, Plan
from .spec import ResourceSpec, StackSpec
from .state import CREATE_UNCERTAIN, INCARNATION_SEP, ResourceState, ResourceStatus, base_name

#: Records a resource is diffed from nothing against (it may not exist).
_DIFF_FROM_NOTHING = CREATE_UNCERTAIN | {ResourceStatus.PENDING_DELETE}

#: Pseudo-fields in a diff when the resource moves to another dock or type.
DOCK_FIELD = "__dock__"
TYPE_FIELD = "__type__"


@dataclass(frozen=True)
class Selection:
    """Which spec resources an apply walks and which state records it deletes."""

    participants: set[str]
    deletes: set[str]


def check_targets(targets: Iterable[str] | None, known: Collection[str]) -> list[str] | None:
    if targets is None:
        return None
    wanted = list(dict.fromkeys(targets))
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise SpecError([("targets", f"unknown resource {t!r}") for t in unknown])
    return wanted


def select(
    stack: StackSpec, records: Mapping[str, ResourceState], targets: Iterable[str] | None
) -> Selection:
    """Targets pull in their dependencies (to apply) but delete only themselves.

    Without targets: every spec resource, and every record that is not in
    the spec or is an old incarnation (``web#2``).
    """
    bases = {base_name(k) for k in records}
    wanted = check_targets(targets, set(stack.resources) | bases)
    if wanted is None:
        participants = set(stack.resources)
        scope = None
    else:
        participants = stack.graph.dependencies_of(t for t in wanted if t in stack.resources)
        scope = participants | set(wanted)
    deletes = {
        key
        for key in records
        if (INCARNATION_SEP in key or key not in stack.resources)
        and (scope is None or base_name(key) in scope)
    }
    return Selection(participants, deletes)


def delete_graph(records: Mapping[str, ResourceState], keys: Collection[str]) -> Graph:
    """Dependencies among records to delete (by recorded ``depends_on``).

    Deletes must run dependents first: feed ``reverse_sorter_input()`` to the
    sorter. A record's dependency on ``db`` covers ``db`` and its old
    incarnations. Should recorded dependencies ever form a cycle, the edges
    are dropped (deletes then run unordered) rather than blocking cleanup.
    """
    by_base: dict[str, list[str]] = {}
    for key in keys:
        by_base.setdefault(base_name(key), []).append(key)
    edges = {
        key: [
            dep for name in records[key].depends_on for dep in by_base.get(name, ()) if dep != key
        ]
        for key in keys
    }
    graph = Graph(edges)
    if graph.find_cycle() is not None:
        return Graph({key: () for key in keys})
    return graph


def state_graph(records: Mapping[str, ResourceState]) -> Graph:
    """Dependencies between the resource names recorded in state."""
    deps: dict[str, list[str]] = {}
    for key, record in records.items():
        deps.setdefault(base_name(key), []).extend(record.depends_on)
    return Graph(deps)


def effective(
    inputs: Mapping[str, Any], rtype: ResourceType, defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """``inputs`` with every field they leave empty that the dock gives a default
    (``Adapter.dock_defaults``: an AWS dock's region) filled in, so that saying the
    default out loud is not a change, and state records where a resource really is."""
    out = dict(inputs)
    for key, value in defaults.items():
        if key in rtype.spec_model.model_fields and out.get(key) is None:
            out[key] = value
    return out


#: dock reference -> the spec values that dock fills in (``Adapter.dock_defaults``)
DockDefaults = Callable[[Any], Mapping[str, Any]]


def no_defaults(dock: Any) -> Mapping[str, Any]:
    return {}


def decide(
    old: ResourceState | None,
    res: ResourceSpec,
    inputs: Mapping[str, Any],
    rtype: ResourceType,
    defaults: Mapping[str, Any] | None = None,
) -> Diff:
    """create | update | replace | no-op for one resource. Both sides are compared
    with the dock's defaults filled in (state written before defaults were recorded
    may leave them out)."""
    if defaults:
        inputs = effective(inputs, rtype, defaults)
    if old is None or old.status in _DIFF_FROM_NOTHING:
        return diff(None, inputs, rtype.replace_fields)
    old_inputs = effective(old.inputs, rtype, defaults) if defaults else old.inputs
    result = diff(old_inputs, inputs, rtype.replace_fields)
    moved: dict[str, tuple[Any, Any]] = {}
    # stores may keep the dock reference as text: 7 and "7" are the same dock
    if str(old.dock) != str(res.dock) or old.provider != res.provider:
        moved[DOCK_FIELD] = (old.dock, res.dock)
    if old.type != res.type:
        moved[TYPE_FIELD] = (old.type, res.type)
    if moved:
        return Diff("replace", {**result.changes, **moved})
    return result


def creates_first(old: ResourceState, res: ResourceSpec, change: Diff) -> bool:
    """Replace order: create-then-delete unless the name stays the same.

    Provider names are usually unique (buckets, DNS zones, the sandbox), so a
    replacement that keeps the ``name`` property in the same dock must delete
    the old resource first; otherwise the new one is created first, for the
    shortest outage.
    """
    keeps_name = "name" in old.inputs and "name" not in change.changes
    return not (keeps_name and DOCK_FIELD not in change.changes)


def mask(value: Any, field_name: str, secret_fields: frozenset[str]) -> Any:
    """A secret field's value shows as ``********`` (an absent one stays None)."""
    if field_name in secret_fields and value is not None:
        return CENSOR
    return display(value)


def masked_outputs(outputs: Mapping[str, Any], secret_fields: frozenset[str]) -> dict[str, Any]:
    return {k: (CENSOR if k in secret_fields else v) for k, v in outputs.items()}


def render_diff(change: Diff, secret_fields: frozenset[str]) -> dict[str, dict[str, Any]]:
    return {
        name: {"old": mask(old, name, secret_fields), "new": mask(new, name, secret_fields)}
        for name, (old, new) in change.changes.items()
    }


class _Planner:
    def __init__(
        self,
        stack: StackSpec,
        records: Mapping[str, ResourceState],
        registry: Registry,
        dock_defaults: DockDefaults,
    ) -> None:
        self.stack = stack
        self.records = records
        self.registry = registry
        self.dock_defaults = dock_defaults
        #: resource -> outputs as they will be after apply (None: all unknown)
        self.future: dict[str, dict[str, Any] | None] = {}
        self.errors: list[tuple[str, str]] = []

    def lookup(self, resource: str, attr: str) -> Any:
        outputs = self.future.get(resource, self._recorded_outputs(resource))
        if outputs is None:
            return UNKNOWN
        return outputs.get(attr)

    def _recorded_outputs(self, resource: str) -> dict[str, Any] | None:
        record = self.records.get(resource)
        if record is None or record.status != ResourceStatus.CREATED:
            return None
        return record.outputs

    def change_for(self, name: str) -> Change | None:
        res = self.stack.resources[name]
        rtype = self.registry.resource_type(res.provider, res.type)
        inputs = self.desired_inputs(res)
        if inputs is None:
            self.future[name] = None
            return None
        old = self.records.get(name)
        change = decide(old, res, inputs, rtype, self.dock_defaults(res.dock))
        if change.action in ("create", "replace"):
            self.future[name] = None
        elif change.action == "update" and old is not None:
            self.future[name] = {
                k: (UNKNOWN if k in change.changes else v) for k, v in old.outputs.items()
            }
        elif old is not None:
            self.future[name] = old.outputs
        note = ""
        if old is not None and old.status in CREATE_UNCERTAIN:
            note = "an interrupted create will be adopted if it exists"
        elif old is not None and old.status == ResourceStatus.PENDING_UPDATE:
            note = "an interrupted update will be re-applied"
        return Change(
            resource=name,
            type=res.type,
            action=change.action,
            diff=render_diff(change, rtype.secret_fields),
            note=note,
        )

    def desired_inputs(self, res: ResourceSpec) -> dict[str, Any] | None:
        """Validated, normalized inputs; unknown values stay ``UNKNOWN``."""
        path = f"resources.{res.name}.properties"
        resolved = resolve(res.properties, self.lookup) if res.references else res.properties
        unknown = {k for k, v in resolved.items() if contains_unknown(v)}
        try:
            if not unknown:
                model = self.registry.validate(res.provider, res.type, resolved, path=path)
                return model.model_dump(mode="json")
            errors = self.registry.validate_partial(
                res.provider, res.type, resolved, unknown=unknown, path=path
            )
        except SpecError as exc:
            errors = exc.errors
        if errors:
            self.errors.extend(errors)
            return None
        known = self.registry.normalize_known(res.provider, res.type, resolved, unknown=unknown)
        return {**known, **dict.fromkeys(unknown, UNKNOWN)}


def compute_plan(
    stack: StackSpec,
    records: Mapping[str, ResourceState],
    *,
    registry: Registry,
    targets: Iterable[str] | None = None,
    dock_defaults: DockDefaults | None = None,
) -> Plan:
    """Creates/updates in dependency order, then deletes (dependents first).

    Raises SpecError when resolved properties fail validation.
    """
    selection = select(stack, records, targets)
    planner = _Planner(stack, records, registry, dock_defaults or no_defaults)
    changes: list[Change] = []
    for name in stack.graph.order():
        if name in selection.participants:
            change = planner.change_for(name)
            if change is not None:
                changes.append(change)
    if planner.errors:
        raise SpecError(planner.errors)
    graph = delete_graph(records, selection.deletes)
    for key in _reverse_order(graph):
        record = records[key]
        retained = record.deletion_policy == "retain"
        changes.append(
            Change(
                resource=key,
                type=record.type,
                action="delete",
                note="retained: removed from state, kept at the provider" if retained else "",
            )
        )
    summary = dict.fromkeys(ACTIONS, 0)
    for change in changes:
        summary[change.action] += 1
    return Plan(stack=stack.name, changes=changes, summary=summary)


def _reverse_order(graph: Graph) -> list[str]:
    return list(reversed(graph.order()))
