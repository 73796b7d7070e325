"""YAML read safely and with line numbers: composed nodes, never constructed objects.

Composing keeps anchors as shared nodes, so an alias bomb costs nothing until someone expands
it; :func:`walk_budget` bounds that expansion. Documents that fail to parse are reported one
by one and the good documents of the same file are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "Node",
    "YamlBudgetError",
    "compose_documents",
    "get",
    "items",
    "line_of",
    "pairs",
    "scalar",
]

_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE):  # type: ignore[valid-type,misc]
    """libyaml's parser (10-20x faster) when PyYAML has it; marks are kept either way.

    No implicit tag resolution: every scalar is read as text, which is all the inventory
    needs, and it saves a regex match per scalar.
    """

    yaml_implicit_resolvers: dict[str, list[object]] = {}


_LOADER = _Loader

#: Files larger than this are not parsed (a generous size for manifests and compose files).
MAX_YAML_BYTES = 8 << 20
#: Node visits allowed per document while walking (bounds alias expansion).
MAX_NODE_VISITS = 200_000


class YamlBudgetError(Exception):
    """A document expands to more nodes than allowed (an alias bomb, or absurdly large)."""


@dataclass
class Budget:
    left: int = MAX_NODE_VISITS

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise YamlBudgetError(
                f"the document expands to more than {MAX_NODE_VISITS} nodes (an alias bomb?)"
            )


def split_documents(text: str) -> list[tuple[int, str]]:
    """Split a multi-document stream at ``---`` lines: (first line number, text) pairs.

    Splitting first lets one broken document be reported without losing the others.
    """
    docs: list[tuple[int, str]] = []
    start = 1
    current: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if line.startswith("---") and (len(line) == 3 or line[3] in " \t\r\n"):
            if current:
                docs.append((start, "".join(current)))
            start, current = number + 1, []
            rest = line[3:].strip()
            if rest:
                current.append(rest + "\n")
                start = number
            continue
        current.append(line)
    if current:
        docs.append((start, "".join(current)))
    return docs


def compose_documents(text: str) -> Iterator[tuple[int, Node | None, str | None]]:
    """Yield (first line, node or None, error or None) per document."""
    for first_line, doc in split_documents(text):
        if not doc.strip() or doc.lstrip().startswith("..."):
            continue
        try:
            node: Node | None = yaml.compose(doc, Loader=_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = first_line + mark.line if mark is not None else first_line
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            yield line, None, f"invalid YAML at line {line}: {problem}"
            continue
        if node is not None:
            yield first_line, node, None


def line_of(node: Node, first_line: int) -> int:
    return first_line + node.start_mark.line


def get(node: Node | None, key: str, budget: Budget) -> Node | None:
    """The value node of ``key`` in a mapping node (merge keys not followed)."""
    if not isinstance(node, MappingNode):
        return None
    for k, v in node.value:
        budget.spend()
        if isinstance(k, ScalarNode) and k.value == key:
            return v if isinstance(v, Node) else None
    return None


def scalar(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode):
        return str(node.value)
    return None


def items(node: Node | None, budget: Budget) -> list[Node]:
    if not isinstance(node, SequenceNode):
        return []
    for _ in node.value:
        budget.spend()
    return list(node.value)


def pairs(node: Node | None, budget: Budget) -> list[tuple[str, Node]]:
    if not isinstance(node, MappingNode):
        return []
    out = []
    for k, v in node.value:
        budget.spend()
        if isinstance(k, ScalarNode):
            out.append((str(k.value), v))
    return out
