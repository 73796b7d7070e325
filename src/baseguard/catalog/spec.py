"""``catalog.yaml``: read safely, validate strictly, edit round-trip, write atomically.

The file is read with ruamel.yaml's round-trip loader so that an edit (``catalog approve``,
``catalog add``…) keeps every comment, the key order and the quoting of the rest of the file.
The loader builds plain data only (YAML tags are refused), and the document is bounded: at
most :data:`MAX_BYTES` bytes, :data:`MAX_DEPTH` levels of nesting and :data:`MAX_NODES`
nodes once aliases are expanded (an "alias bomb" is refused before anything walks it).

Every problem is reported as ``FILE:LINE: path.to.value: rule``; an edit is validated again,
as the text that will be written, before the file is replaced atomically.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
)

from baseguard import newfile
from baseguard.catalog.lifecycle import entry_problems
from baseguard.catalog.model import (
    CATALOG_VERSION,
    Catalog,
    CatalogEntry,
    CatalogError,
    CatalogException,
    CatalogValidationError,
    PathPart,
)

#: Largest catalog file read, in bytes.
MAX_BYTES = 4 * 1024 * 1024
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 32
#: Most nodes the document may expand to, counting every alias expansion.
MAX_NODES = 200_000
#: Keys whose values are dates, written as unquoted YAML dates.
DATE_KEYS = frozenset({"eol", "date", "created", "expires"})

DEFAULT_FILE = "catalog.yaml"

INIT_TEMPLATE = f"""\
# baseguard catalog: the approved base images of this organisation.
#
# Each entry names one repository exactly, the tags it allows (globs such as 3.12* are
# allowed) and the digests it pins; variants add flavours of it (a "dev" variant has a shell
# or package manager and is allowed only in build stages). Entries move through
# proposed -> approved -> deprecated -> retired with `baseguard catalog approve|deprecate|retire`,
# and exceptions waive the rules for matching images until they expire.
# Reference: docs/catalog.md; JSON Schema: docs/catalog.schema.json.
version: {CATALOG_VERSION}

entries: []

exceptions: []
"""


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.allow_duplicate_keys = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _guess_indent(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) indentation the file already uses; 2, 4, 2 by default."""
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    key_only: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        col = len(line) - len(line.lstrip(" "))
        dash = stripped.startswith("- ")
        if key_only is not None and (col > key_only or (dash and col == key_only)):
            if dash and sequence is None:
                content = col + 2 + (len(stripped[2:]) - len(stripped[2:].lstrip(" ")))
                sequence = (col - key_only, content - key_only)
            elif not dash and mapping is None:
                mapping = col - key_only
        key_only = col if re.fullmatch(r"[^#]*:\s*(#.*)?", stripped) else None
        if mapping is not None and sequence is not None:
            break
    if sequence is None:
        return (mapping or 2, (mapping or 2) + 2, mapping or 2)
    offset, seq = sequence
    return (mapping or max(2, seq - offset), seq, offset)


def read_text(path: Path) -> str:
    """The file's text, refusing what is too large, not a file, or not UTF-8."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise CatalogError(
            f"{path}: no such catalog file",
            hint="create one with `baseguard catalog init`, or pass --catalog FILE",
        ) from None
    except IsADirectoryError:
        raise CatalogError(f"{path}: is a directory, not a catalog file") from None
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise CatalogError(
            f"{path}: larger than {MAX_BYTES} bytes; refusing to read it as a catalog"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _check_events(yaml: YAML, text: str, source: str) -> None:
    """Depth, document count and size, before anything is built (the parser is iterative)."""
    depth = documents = 0
    for events, event in enumerate(yaml.parse(text), start=1):
        if events > MAX_NODES * 2:
            raise CatalogError(f"{source}: more than {MAX_NODES} YAML nodes")
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise CatalogError(
                    f"{source}:{_line(event)}: more than one YAML document",
                    hint="a catalog is one document; remove the extra '---'",
                )
        elif isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise CatalogError(
                    f"{source}:{_line(event)}: nested more than {MAX_DEPTH} levels deep"
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
        elif isinstance(event, AliasEvent):
            pass  # bounded below, once expanded sizes are known


def _line(event: Any) -> int:
    mark = getattr(event, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def _check_tree(tree: Any, source: str) -> None:
    """Refuse YAML tags, recursive aliases and documents that expand past MAX_NODES."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, path: tuple[PathPart, ...]) -> int:
        if isinstance(node, TaggedScalar) or (
            isinstance(node, CommentedBase) and getattr(node.tag, "value", None)
        ):
            raise CatalogValidationError(
                path, "YAML tags (!name, !!type) are not allowed in a catalog"
            ).located(source, _line_of(tree, path))
        if not isinstance(node, CommentedMap | CommentedSeq):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise CatalogValidationError(path, "a recursive alias").located(
                source, _line_of(tree, path)
            )
        active.add(key)
        total = 1
        items = node.items() if isinstance(node, CommentedMap) else enumerate(node)
        for k, v in items:
            total += size(v, (*path, k if isinstance(k, int | str) else str(k)))
            if total > MAX_NODES:
                raise CatalogError(
                    f"{source}: the document expands to more than {MAX_NODES} nodes "
                    "(an alias bomb?)"
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(tree, ())


def parse_tree(text: str, source: str) -> Any:
    """The round-trip tree of ``text``, within the limits; raises CatalogError."""
    yaml = _yaml()
    try:
        _check_events(yaml, text, source)
        tree = yaml.load(text)
    except CatalogError:
        raise
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise CatalogError(
            f"{source}{line}: not valid YAML: {problem}",
            hint="a catalog is YAML; `baseguard catalog init` writes a valid one",
        ) from None
    except YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from None
    except ValueError as exc:  # an impossible date such as 2025-13-01
        located = _bad_date(yaml, text, source)
        if located is not None:
            raise located from None
        raise CatalogError(f"{source}{_bad_date_line(text)}: invalid value: {exc}") from None
    except RecursionError:
        raise CatalogError(f"{source}: nested too deeply") from None
    if tree is None:
        raise CatalogValidationError((), "the file is empty", source=source).located(source, None)
    _check_tree(tree, source)
    return tree


_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def _bad_date(yaml: YAML, text: str, source: str) -> CatalogValidationError | None:
    """The first plain date that is no real date (2025-13-01), with its path and line.

    The text is composed into nodes, which builds no values, so the date that made loading
    fail can be found and named like any other invalid value (``entries[0].eol``).
    """
    try:
        root = yaml.compose(text)
    except (YAMLError, ValueError, RecursionError):
        return None
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[PathPart, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.value, list):
            children: list[tuple[Any, tuple[PathPart, ...]]] = []
            for i, item in enumerate(node.value):
                if isinstance(item, tuple):  # a mapping's (key, value) pair
                    key, value = item
                    name = key.value if isinstance(key.value, str) else str(i)
                    children.append((key, (*path, name)))
                    children.append((value, (*path, name)))
                else:
                    children.append((item, (*path, i)))
            stack.extend(reversed(children))
            continue
        if not str(node.tag).endswith(":timestamp") or not isinstance(node.value, str):
            continue
        m = _DATE_RE.match(node.value)
        if m is None:
            continue
        try:
            date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            return CatalogValidationError(
                path,
                f"{node.value} is not a valid date: {exc}",
                source=source,
                line=node.start_mark.line + 1,
            )
    return None


def _bad_date_line(text: str) -> str:
    for n, line in enumerate(text.splitlines(), start=1):
        for m in re.finditer(r"(?<![0-9])([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})(?![0-9])", line):
            try:
                date.fromisoformat(m.group(1))
            except ValueError:
                return f":{n}"
    return ""


def _line_of(tree: Any, path: Sequence[PathPart]) -> int | None:
    """1-based line of the deepest part of ``path`` the tree can place."""
    line: int | None = None
    node = tree
    for part in path:
        try:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return line


def validate_tree(tree: Any, source: str) -> Catalog:
    """The catalog the tree describes, with every rule checked (model and lifecycle)."""
    try:
        catalog = Catalog.from_dict(tree)
    except CatalogValidationError as exc:
        raise exc.located(source, _line_of(tree, exc.path)) from None
    for i, entry in enumerate(catalog.entries):
        for sub, rule, hint in entry_problems(entry):
            path = ("entries", i, *sub)
            raise CatalogValidationError(
                path, rule, source=source, line=_line_of(tree, path), hint=hint
            )
    return catalog


def loads_catalog(text: str, source: str = "<catalog>") -> Catalog:
    """Parse and validate catalog text."""
    return validate_tree(parse_tree(text, source), source)


def load_catalog(path: Path | str) -> Catalog:
    """Read and validate a catalog file."""
    p = Path(path)
    return loads_catalog(read_text(p), str(p))


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once; on failure the old file is untouched.

    A symlinked catalog (into a shared configuration checkout) is written through: the file
    it points to is replaced and the link stays a link."""
    if path.is_symlink():
        path = path.resolve()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CatalogError(f"cannot write {path}: directory {parent} does not exist")
    try:
        fd, tmp = newfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    except OSError as exc:
        raise CatalogError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():  # keep the mode it has; a new file has that of any new file
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CatalogError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the catalog file while it is edited.

    Two edits at once would lose one of them (each reads, changes and replaces the file), so
    the second is refused at once with a clear error rather than made to wait. The lock is
    ``flock`` on the file itself, so no lock file is left in the repository.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        read_text(path)  # raises the usual "no such catalog file" error
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CatalogError(
                f"{path} is being edited by another baseguard process",
                hint="run the command again when that edit has finished",
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            raise CatalogError(
                f"{path} was replaced while it was being opened",
                hint="run the command again",
            )
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- edits


def to_yaml_node(value: Any, key: str | None = None) -> Any:
    """A ``to_dict`` value as round-trip YAML: dates unquoted, small things in flow style.

    Empty lists, nulls and false flags are left out of mappings to keep entries short.
    """
    if isinstance(value, Mapping):
        out = CommentedMap()
        for k, v in value.items():
            if v is None or v == [] or (v is False and k in {"dev_in_production", "dev"}):
                continue
            out[k] = to_yaml_node(v, k)
        scalars = all(not isinstance(v, CommentedMap | CommentedSeq) for v in out.values())
        if out and scalars and key not in {None, "entries", "exceptions", "variants"}:
            out.fa.set_flow_style()
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(to_yaml_node(v, key) for v in value)
        if all(isinstance(v, str) for v in value):
            seq.fa.set_flow_style()
        return seq
    if key in DATE_KEYS and isinstance(value, str):
        return date.fromisoformat(value)
    return value


class CatalogDocument:
    """A catalog file held as its round-trip tree, edited in place, saved atomically."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.source = str(path)
        self.original = text
        self.indent = _guess_indent(text)
        self.tree = parse_tree(text, self.source)
        self.catalog = validate_tree(self.tree, self.source)

    @classmethod
    def load(cls, path: Path) -> CatalogDocument:
        return cls(path, read_text(path))

    def dumps(self) -> str:
        yaml = _yaml()
        mapping, sequence, offset = self.indent
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        buf = io.StringIO()
        yaml.dump(self.tree, buf)
        return buf.getvalue()

    def save(self) -> None:
        """Write the edited document: validated again as the exact text written, atomically."""
        text = self.dumps()
        loads_catalog(text, self.source)
        write_atomic(self.path, text)
        self.original = text

    def _seq(self, key: str) -> CommentedSeq:
        current = self.tree.get(key)
        if current is None or (isinstance(current, CommentedSeq) and not current):
            seq = CommentedSeq()
            if key in self.tree:
                self.tree[key] = seq
            else:
                self.tree.insert(len(self.tree), key, seq)
            return seq
        if not isinstance(current, CommentedSeq):
            raise CatalogValidationError((key,), "must be a list").located(
                self.source, _line_of(self.tree, (key,))
            )
        return current

    def _append(self, key: str, node: CommentedMap) -> None:
        seq = self._seq(key)
        seq.append(node)
        if len(seq) > 1 and _blank_line_between(seq):
            seq.yaml_set_comment_before_after_key(len(seq) - 1, before="\n")

    def _refresh(self) -> None:
        self.catalog = validate_tree(self.tree, self.source)

    def _entry_node(self, entry_id: str) -> CommentedMap:
        for node in self._seq("entries"):
            if isinstance(node, CommentedMap) and node.get("id") == entry_id:
                return node
        raise CatalogError(f"{self.source}: no entry has id {entry_id!r}")

    def add_entry(self, entry: CatalogEntry) -> None:
        """Append a new entry; refused (document unchanged in effect) if the result is invalid."""
        if self.catalog.get(entry.id) is not None:
            raise CatalogError(
                f"{self.source}: an entry with id {entry.id!r} already exists",
                hint="choose another id, or edit the existing entry",
            )
        self._append("entries", to_yaml_node(entry.to_dict()))
        self._refresh()

    def add_exception(self, exception: CatalogException) -> None:
        if self.catalog.get_exception(exception.id) is not None:
            raise CatalogError(
                f"{self.source}: an exception with id {exception.id!r} already exists",
                hint="choose another id",
            )
        self._append("exceptions", to_yaml_node(exception.to_dict()))
        self._refresh()

    def record_transition(self, entry: CatalogEntry, *, replaced_by: str | None = None) -> None:
        """Write ``entry``'s new state and last history step into its existing mapping."""
        node = self._entry_node(entry.id)
        step = entry.lifecycle.history[-1]
        life = node.get("lifecycle")
        if not isinstance(life, CommentedMap):
            life = CommentedMap()
            _set_after(node, "lifecycle", life, after=("runtime", "variants", "repository"))
        life["state"] = entry.state
        history = life.get("history")
        item = to_yaml_node(step.to_dict(), "history")
        if not isinstance(history, CommentedSeq):
            history = CommentedSeq()
            life["history"] = history
        history.append(item)
        if replaced_by is not None:
            _set_after(node, "replaced_by", replaced_by, after=("lifecycle",))
        self._refresh()


def _set_after(node: CommentedMap, key: str, value: Any, after: tuple[str, ...]) -> None:
    if key in node:
        node[key] = value
        return
    keys = list(node)
    for anchor in after:
        if anchor in node:
            node.insert(keys.index(anchor) + 1, key, value)
            return
    node.insert(len(node), key, value)


def _blank_line_between(seq: CommentedSeq) -> bool:
    """Whether the file separates the items of this list (before the new last) by blank lines."""
    old = len(seq) - 1
    if old >= 2:
        return _ends_with_blank(seq[old - 2])
    if old == 1:  # one item so far: follow the blank line after it, if any
        end = getattr(seq.ca, "end", None) or []
        first = next((t for t in _flatten(end) if t is not None), None)
        return first is not None and str(getattr(first, "value", "")).startswith("\n")
    return False


def _ends_with_blank(node: Any) -> bool:
    if not isinstance(node, CommentedMap) or not node:
        return False
    last = list(node)[-1]
    tokens = node.ca.items.get(last)
    if tokens and len(tokens) > 2 and tokens[2] is not None:
        return "\n\n" in str(getattr(tokens[2], "value", ""))
    return _ends_with_blank(node[last])


def _flatten(items: Any) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item
