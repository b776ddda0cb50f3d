"""Parse and check a declarative stack document.

```yaml
name: my-stack
resources:
  db:
    dock: aws-main            # dock id (int) or name (str)
    type: s3-bucket
    properties: {name: my-bucket}
    depends_on: []            # optional
    deletion_policy: delete   # optional: delete | retain
  web:
    dock: aws-main
    type: s3-bucket
    properties: {name: "${db.name}-web"}
```

Checks collect every problem with its exact path (and, for YAML text, the
line). Properties holding ``${...}`` references cannot be validated before
the referenced outputs exist: at parse time the top-level fields that hold
references are left out of model validation (a field the model lacks is
still an error); the complete, substituted properties are validated again
right before each provider call (and by ``plan`` when the values are known).

Nothing in a document is ever executed: YAML goes through the safe loader,
references are plain lookups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import yaml

from .errors import CycleError, SpecError
from .graph import Graph
from .references import BadReference, Reference, scan
from .registry import Registry, join_path

RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,199}$")
DELETION_POLICIES = ("delete", "retain")
MAX_DOCUMENT_CHARS = 5_000_000
#: Nodes a YAML document may expand to once aliases are followed.
MAX_EXPANDED_NODES = 2_000_000
_TOP_KEYS = frozenset({"name", "resources", "description"})
_RESOURCE_KEYS = frozenset({"dock", "type", "properties", "depends_on", "deletion_policy"})

DockRef = str | int
DockProvider = Callable[[DockRef], str]


@dataclass(frozen=True)
class ResourceSpec:
    """One desired resource. ``properties`` are raw: they may hold ``${...}``.

    ``references`` and ``dependencies`` (explicit ``depends_on`` plus every
    referenced resource) are computed from the other fields.
    """

    name: str
    dock: DockRef
    provider: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    deletion_policy: str = "delete"
    references: tuple[Reference, ...] = field(init=False, repr=False, compare=False)
    dependencies: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        refs = tuple(r for r in scan(self.properties) if isinstance(r, Reference))
        deps = dict.fromkeys([*self.depends_on, *(r.resource for r in refs)])
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        object.__setattr__(self, "references", refs)
        object.__setattr__(self, "dependencies", tuple(deps))


@dataclass(frozen=True)
class StackSpec:
    """A parsed, checked stack: resources in document order."""

    name: str
    resources: dict[str, ResourceSpec]
    description: str = ""

    @cached_property
    def graph(self) -> Graph:
        return Graph({n: r.dependencies for n, r in self.resources.items()})


# --- document loading ------------------------------------------------------


class _Positions:
    """Line numbers of the keys of a YAML document, by dotted path."""

    def __init__(self) -> None:
        self.lines: dict[str, int] = {}

    def line_of(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if "." not in path:
                return None
            path = path.rsplit(".", 1)[0]


def load_document(doc: str | bytes | Mapping[str, Any]) -> tuple[Any, _Positions | None]:
    """The parsed document and, for YAML, where each key is."""
    if isinstance(doc, Mapping):
        return doc, None
    if isinstance(doc, bytes):
        try:
            doc = doc.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError([("", "the document is not valid UTF-8")]) from None
    if not isinstance(doc, str):
        raise SpecError([("", "a stack document must be YAML or JSON text, or a mapping")])
    if len(doc) > MAX_DOCUMENT_CHARS:
        raise SpecError([("", f"the document is larger than {MAX_DOCUMENT_CHARS} characters")])
    if doc.lstrip().startswith(("{", "[")) and too_deep(doc):
        raise SpecError([("", f"the document nests deeper than {MAX_DEPTH} levels")])
    if doc.lstrip().startswith("{"):
        return _load_json(doc), None
    return _load_yaml(doc)


def _load_json(text: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise SpecError([("", f"duplicate key {key!r} in JSON document")])
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from None
    except RecursionError:
        raise SpecError([("", "the document is nested too deeply")]) from None
    except (ValueError, TypeError, AttributeError, OverflowError, LookupError) as exc:
        # PyYAML's constructors fail this way on some malformed scalars (e.g. a
        # timestamp-looking value its resolver accepted but its constructor cannot read)
        raise SpecError([("", f"invalid YAML value ({type(exc).__name__})")]) from None


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: deepest collection nesting a document may have (a stack needs about 6)
MAX_DEPTH = 64


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether a YAML (or JSON) text nests collections deeper than ``limit``.

    Walks the parser's events, which needs no recursion: composing a very deep
    text crashes libyaml (a segfault, not an exception), so such a text must
    never reach the loader. A syntax error is left for the loader to report.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return False


def _load_yaml(text: str) -> tuple[Any, _Positions]:
    if too_deep(text):
        raise SpecError([("", f"the document nests deeper than {MAX_DEPTH} levels")])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, _Positions()
        positions = _index_nodes(node)
        return loader.construct_document(node), positions
    except yaml.MarkedYAMLError as exc:
        raise SpecError([("", _yaml_message(exc))]) from None
    except yaml.YAMLError as exc:
        raise SpecError([("", f"invalid YAML: {type(exc).__name__}")]) from None
    except RecursionError:
        raise SpecError([("", "the document is nested too deeply")]) from None
    except (ValueError, TypeError, AttributeError, OverflowError, LookupError) as exc:
        # PyYAML's constructors fail this way on some malformed scalars (e.g. a
        # timestamp-looking value its resolver accepted but its constructor cannot read)
        raise SpecError([("", f"invalid YAML value ({type(exc).__name__})")]) from None
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = exc.problem or exc.context or "syntax error"
    return f"invalid YAML{where}: {problem}"


def _index_nodes(root: yaml.Node) -> _Positions:
    """Record key lines, reject duplicate keys and alias bombs."""
    positions = _Positions()
    sizes: dict[int, int] = {}
    errors: list[tuple[str, str]] = []
    visited: set[int] = set()

    def expanded(node: yaml.Node) -> int:
        key = id(node)
        if key not in sizes:
            sizes[key] = 1  # guards against recursive aliases
            children: list[yaml.Node] = []
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            sizes[key] = 1 + sum(expanded(c) for c in children)
        return sizes[key]

    def walk(node: yaml.Node, path: str) -> None:
        if id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                sub = join_path(path, key)
                line = key_node.start_mark.line + 1
                if key in seen and key != "<<":
                    errors.append((sub, f"duplicate key {key!r} (line {line})"))
                seen.add(key)
                positions.lines.setdefault(sub, line)
                walk(value_node, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                sub = join_path(path, index)
                positions.lines.setdefault(sub, item.start_mark.line + 1)
                walk(item, sub)

    if expanded(root) > MAX_EXPANDED_NODES:
        raise SpecError([("", "the document is too large once its aliases are expanded")])
    walk(root, "")
    if errors:
        raise SpecError(errors)
    return positions


# --- checking ----------------------------------------------------------------


def parse_stack(
    doc: str | bytes | Mapping[str, Any],
    *,
    registry: Registry,
    dock_provider: DockProvider,
    max_resources: int | None = None,
) -> StackSpec:
    """Parse YAML/JSON text (or a parsed mapping) into a checked StackSpec.

    ``dock_provider`` maps a dock reference to its provider name and raises
    ``LookupError`` (``KeyError``) for a dock that does not exist (or that the
    caller may not use). A document declaring more than ``max_resources``
    resources is refused before any of them is checked. Raises ``SpecError``
    (``CycleError`` for a cycle) listing every problem.
    """
    data, positions = load_document(doc)
    resources = data.get("resources") if isinstance(data, Mapping) else None
    if max_resources is not None and isinstance(resources, Mapping):
        if len(resources) > max_resources:
            raise SpecError(
                [
                    (
                        "resources",
                        f"at most {max_resources:,} resources per stack document, "
                        f"got {len(resources):,}",
                    )
                ]
            )
    checker = _Checker(registry, dock_provider)
    stack = checker.check(data)
    if checker.cycle is not None:
        raise CycleError(checker.cycle, _with_lines(checker.errors, positions))
    if checker.errors or stack is None:
        raise SpecError(_with_lines(checker.errors, positions))
    return stack


def _with_lines(
    errors: list[tuple[str, str]], positions: _Positions | None
) -> list[tuple[str, str]]:
    if positions is None:
        return errors
    out = []
    for path, message in errors:
        line = positions.line_of(path) if path else None
        out.append(
            (path, f"{message} (line {line})" if line and "(line " not in message else message)
        )
    return out


class _Checker:
    def __init__(self, registry: Registry, dock_provider: DockProvider) -> None:
        self.registry = registry
        self.dock_provider = dock_provider
        self.errors: list[tuple[str, str]] = []
        self.cycle: list[str] | None = None
        self._docks: dict[DockRef, str | None] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def check(self, data: Any) -> StackSpec | None:
        if not isinstance(data, Mapping):
            self.error("", "a stack document must be a mapping with 'name' and 'resources'")
            return None
        for key in data:
            if key not in _TOP_KEYS:
                self.error(str(key), f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
        name = self._stack_name(data.get("name"))
        description = data.get("description", "")
        if not isinstance(description, str):
            self.error("description", "must be a string")
            description = ""
        raw = data.get("resources", {})
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            self.error("resources", "must be a mapping of resource name to resource")
            return None
        resources = self._resources(raw)
        stack = StackSpec(name=name or "", resources=resources, description=description)
        self.cycle = stack.graph.find_cycle()
        if self.errors or self.cycle is not None:
            return None
        return stack

    def _stack_name(self, name: Any) -> str | None:
        if name is None:
            self.error("name", "required")
        elif not isinstance(name, str) or not STACK_NAME.match(name):
            self.error(
                "name",
                "must be 1-200 characters: letters, digits and _ . : / - "
                "(not starting with a punctuation mark other than _)",
            )
        else:
            return name
        return None

    def _resources(self, raw: Mapping[Any, Any]) -> dict[str, ResourceSpec]:
        shells: dict[str, tuple[Mapping[str, Any], str | None, str | None]] = {}
        head_errors: dict[str, list[tuple[str, str]]] = {}
        for rname, body in raw.items():
            path = join_path("resources", rname)
            if not isinstance(rname, str) or not RESOURCE_NAME.match(rname):
                self.error(
                    path,
                    "invalid resource name: lowercase letter first, then up to 62 "
                    "lowercase letters, digits, _ or -",
                )
                continue
            if not isinstance(body, Mapping):
                self.error(path, "must be a mapping with 'dock', 'type' and 'properties'")
                continue
            before = len(self.errors)
            provider, type_name = self._head(path, body)
            # reported with the rest of this resource's errors, in document order
            head_errors[rname] = self.errors[before:]
            del self.errors[before:]
            shells[rname] = (body, provider, type_name)
        resources: dict[str, ResourceSpec] = {}
        for rname, (body, provider, type_name) in shells.items():
            self.errors.extend(head_errors[rname])
            spec = self._resource(rname, body, provider, type_name, shells)
            if spec is not None:
                resources[rname] = spec
        return resources

    def _head(self, path: str, body: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """Check keys, dock and type; return (provider, type) when both are valid."""
        for key in body:
            if key not in _RESOURCE_KEYS:
                self.error(
                    join_path(path, key),
                    f"unknown key; allowed: {', '.join(sorted(_RESOURCE_KEYS))}",
                )
        provider = self._dock(join_path(path, "dock"), body.get("dock"))
        type_name = body.get("type")
        if type_name is None:
            self.error(join_path(path, "type"), "required")
            return provider, None
        if not isinstance(type_name, str) or not type_name:
            self.error(join_path(path, "type"), "must be a resource type name")
            return provider, None
        if provider is None:
            return None, type_name
        try:
            self.registry.resource_type(provider, type_name, path=join_path(path, "type"))
        except SpecError as exc:
            self.errors.extend(exc.errors)
            return provider, None
        return provider, type_name

    def _dock(self, path: str, dock: Any) -> str | None:
        if dock is None:
            self.error(path, "required")
            return None
        if isinstance(dock, bool) or not isinstance(dock, int | str) or dock == "":
            self.error(path, "must be a dock id (integer) or name (string)")
            return None
        if dock not in self._docks:
            try:
                self._docks[dock] = self.dock_provider(dock)
            except LookupError:
                self._docks[dock] = None
        provider = self._docks[dock]
        if provider is None:
            self.error(path, f"unknown dock {dock!r}")
        return provider

    def _resource(
        self,
        rname: str,
        body: Mapping[str, Any],
        provider: str | None,
        type_name: str | None,
        shells: Mapping[str, tuple[Mapping[str, Any], str | None, str | None]],
    ) -> ResourceSpec | None:
        path = join_path("resources", rname)
        ok = provider is not None and type_name is not None
        depends_on = self._depends_on(join_path(path, "depends_on"), body.get("depends_on"), shells)
        policy = body.get("deletion_policy", "delete")
        if policy not in DELETION_POLICIES:
            self.error(join_path(path, "deletion_policy"), "must be 'delete' or 'retain'")
            ok = False
        properties = body.get("properties", {})
        if properties is None:
            properties = {}
        ppath = join_path(path, "properties")
        if not isinstance(properties, Mapping) or not all(isinstance(k, str) for k in properties):
            self.error(ppath, "must be a mapping of property name to value")
            return None
        unknown = self._references(ppath, properties, shells)
        if provider is not None and type_name is not None:
            before = len(self.errors)
            self.errors.extend(
                self.registry.validate_partial(
                    provider, type_name, properties, unknown=unknown, path=ppath
                )
            )
            ok = ok and len(self.errors) == before
        if not ok or depends_on is None:
            return None
        return ResourceSpec(
            name=rname,
            dock=body["dock"],
            provider=provider,  # type: ignore[arg-type]
            type=type_name,  # type: ignore[arg-type]
            properties=dict(properties),
            depends_on=depends_on,
            deletion_policy=policy,
        )

    def _depends_on(
        self, path: str, value: Any, shells: Mapping[str, Any]
    ) -> tuple[str, ...] | None:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            self.error(path, "must be a list of resource names")
            return None
        out: list[str] = []
        good = True
        for index, item in enumerate(value):
            if not isinstance(item, str) or item not in shells:
                self.error(join_path(path, index), f"unknown resource {item!r}")
                good = False
            else:
                out.append(item)
        return tuple(out) if good else None

    def _references(
        self,
        ppath: str,
        properties: Mapping[str, Any],
        shells: Mapping[str, tuple[Mapping[str, Any], str | None, str | None]],
    ) -> set[str]:
        """Check every reference; return the top-level fields that hold one."""
        fields: set[str] = set()
        for found in _scan_properties(properties):
            fields.add(found.path.split(".", 1)[0])
            where = join_path(ppath, found.path)
            if isinstance(found, BadReference):
                self.error(
                    where, f"malformed reference {found.text!r}: expected ${{resource.output}}"
                )
                continue
            target = shells.get(found.resource)
            if target is None:
                self.error(where, f"reference to unknown resource {found.resource!r}")
                continue
            _, provider, type_name = target
            if provider is None or type_name is None:
                continue  # the target's own error is already reported
            outputs = self.registry.resource_type(provider, type_name).outputs
            if found.attr not in outputs:
                self.error(
                    where,
                    f"resource {found.resource!r} (type {type_name!r}) has no output "
                    f"{found.attr!r}; outputs: {', '.join(outputs)}",
                )
        return fields


def _scan_properties(properties: Mapping[str, Any]) -> Iterator[Reference | BadReference]:
    for key, value in properties.items():
        yield from scan(value, key)
