"""``stackdock.yaml``: one stack document, or several separated by ``---``.

Each document is what the server takes (``name``, ``resources``, optional
``description``); the CLI only finds the one asked for and sends its text
as written, so the server's error messages point at the right lines and
keep the comments. YAML is read with the safe loader only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackdock.cli.errors import usage

DEFAULT_FILES = ("stackdock.yaml", "stackdock.yml", "stackdock.json")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class StackDoc:
    name: str
    text: str  # what is sent: the document's text, at its own line numbers
    data: dict[str, Any]
    path: Path


def find_file(explicit: Path | None) -> Path:
    """``-f FILE``, else the first of stackdock.yaml / .yml / .json in the current directory."""
    if explicit is not None:
        if not explicit.is_file():
            raise usage(f"No such file: {explicit}", fields={"file": ["not found"]})
        return explicit
    for name in DEFAULT_FILES:
        path = Path.cwd() / name
        if path.is_file():
            return path
    raise usage(
        "No stackdock.yaml in the current directory; pass -f FILE.",
        fields={"file": ["not found"]},
    )


def load(path: Path) -> list[StackDoc]:
    """Every stack document in the file (exit 2 with the line for YAML errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage(f"Cannot read {path}: {exc}", fields={"file": ["unreadable"]}) from None
    loader = _Loader(text)
    docs: list[StackDoc] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            if data is None:
                continue
            if not isinstance(data, dict):
                raise usage(
                    f"{path}, line {node.start_mark.line + 1}: a stack document must be a "
                    "mapping with name and resources.",
                    fields={"file": ["not a mapping"]},
                )
            name = data.get("name")
            if not isinstance(name, str) or not name:
                raise usage(
                    f"{path}, line {node.start_mark.line + 1}: the stack document has no name.",
                    fields={"name": ["required"]},
                )
            body = text[node.start_mark.index : node.end_mark.index]
            docs.append(StackDoc(name, "\n" * node.start_mark.line + body, data, path))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}" if mark else ""
        raise usage(
            f"{path}{where}: invalid YAML: {exc.problem or exc.context}",
            fields={"file": ["invalid YAML"]},
        ) from None
    except yaml.YAMLError:
        raise usage(f"{path}: invalid YAML.", fields={"file": ["invalid YAML"]}) from None
    finally:
        loader.dispose()
    if len(docs) == 1:
        docs[0] = StackDoc(docs[0].name, text, docs[0].data, path)  # send it whole
    if not docs:
        raise usage(f"{path} holds no stack.", fields={"file": ["empty"]})
    names = [d.name for d in docs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise usage(
            f"{path} defines stack {duplicates[0]!r} twice.", fields={"name": ["duplicate"]}
        )
    return docs


def pick(docs: list[StackDoc], name: str | None) -> StackDoc:
    """The stack called ``name``, or the only one in the file."""
    if name is None:
        if len(docs) == 1:
            return docs[0]
        names = ", ".join(d.name for d in docs)
        raise usage(
            f"{docs[0].path} defines several stacks; name one: {names}.",
            fields={"stack": ["required"]},
        )
    for doc in docs:
        if doc.name == name:
            return doc
    names = ", ".join(d.name for d in docs)
    raise usage(
        f"No stack {name!r} in {docs[0].path}; it defines: {names}.",
        fields={"stack": ["not in the file"]},
    )


def stack_name(name: str | None, file: Path | None) -> str:
    """For commands that act on the server only: the name given, else the file's stack."""
    if name:
        return name
    return pick(load(find_file(file)), None).name
