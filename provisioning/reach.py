"""Authority covers everything an operation touches.

An operation on a stack calls the providers of more docks than its new spec
names: a deploy deletes what state holds and the spec no longer declares, a
replace deletes the old incarnation where it was, a destroy or refresh acts on
what state holds whatever the spec says. ``docks_reached`` computes, once and
from the plan, every dock an operation will call; the caller then needs
``provisioning: full`` on the organization, or a provision grant on each of
those docks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from docks.models import Dock
from provisioning.engine.spec import StackSpec
from provisioning.models import Stack, StackResource

#: plan actions that call the provider of the dock the resource is on now
_ACTS_ON_STATE = ("update", "replace", "delete")


def docks_reached(
    stack: Stack,
    *,
    spec: StackSpec | None = None,
    changes: Iterable[Mapping[str, Any]] = (),
    whole_state: bool = False,
) -> list[Dock]:
    """The docks of ``spec``'s resources, of the state records ``changes`` update,
    replace or delete, and with ``whole_state`` (destroy, refresh) of every record."""
    refs: set[str] = set()
    if spec is not None:
        refs |= {str(res.dock) for res in spec.resources.values()}
    records = {r.name: r.dock_ref for r in StackResource.objects.filter(stack=stack)}
    if whole_state:
        refs |= set(records.values())
    for change in changes:
        if change.get("action") in _ACTS_ON_STATE and change.get("resource") in records:
            refs.add(records[change["resource"]])
    docks = [
        d for d in Dock.objects.filter(org_id=stack.org_id) if str(d.pk) in refs or d.name in refs
    ]
    return docks
