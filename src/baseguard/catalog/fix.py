"""Rewrite Dockerfile ``FROM`` lines to the recommended catalog image, pinned by digest.

Only the image word of a ``FROM`` changes (``repo:tag@sha256:…``); its ``--platform`` flag,
its ``AS name`` alias, comments, continuation lines and line endings stay byte for byte.
``FROM ${BASE}`` rewrites the default of the global ``ARG BASE=…`` instead. A file that
BuildKit's parser rejects (or that is not UTF-8) is never touched.

Nothing is rewritten that would break a build as far as measured facts show: a final stage
whose ``RUN`` needs a shell or a package manager (``apk``, ``apt-get``, ``yum``, ``dnf``,
``microdnf``, ``pip install``…) that the recommended runtime image lacks keeps its ``FROM``,
and the note proposes the multi-stage form (the dev variant as a build stage, ``COPY --from``
into the runtime image). No digest, no rewrite: a tag alone is never written.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dockerfile

from baseguard.catalog.compare import Measurement, Measurer
from baseguard.catalog.model import Catalog
from baseguard.catalog.recommend import (
    Choice,
    concrete_reference,
    recommend_reference,
    slot_for,
    want_for,
)
from baseguard.catalog.verdicts import Verdict, judge
from baseguard.errors import BaseguardError
from baseguard.inventory.sources.base import normalise
from baseguard.inventory.sources.dockerfile import expand
from baseguard.refs import parse_reference

#: Dockerfile instructions BuildKit knows; anything else is a file that will not build.
INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
#: Largest Dockerfile read, in bytes.
MAX_BYTES = 4 << 20
_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S*)\s*")
_CONTINUATION = re.compile(r"[ \t]*\r?\n")
_SKIPPED_LINE = re.compile(r"[ \t]*(#[^\n]*)?\r?\n")
_PLAIN_ARG = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ANY_ARG = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
#: Commands that install packages, by the tool a RUN needs for them.
_TOOLS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (tool, re.compile(rf"(?:^|[\s;&|(`]){pattern}(?=\s|$)"))
    for tool, pattern in (
        ("apk", r"apk"),
        ("apt-get", r"apt-get"),
        ("apt", r"apt"),
        ("yum", r"yum"),
        ("dnf", r"dnf"),
        ("microdnf", r"microdnf"),
        ("tdnf", r"tdnf"),
        ("zypper", r"zypper"),
        ("pip", r"(?:pip3?|python3?(?:\.[0-9]+)?\s+-m\s+pip)\s+install"),
    )
)
#: Which package-manager names (as analysis reports them) satisfy a tool a RUN uses.
_PROVIDERS = {
    "apk": {"apk"},
    "apt-get": {"apt-get"},
    "apt": {"apt"},
    "yum": {"yum"},
    "dnf": {"dnf"},
    "microdnf": {"microdnf"},
    "tdnf": {"tdnf"},
    "zypper": {"zypper"},
    "pip": {"pip", "pip3", "python -m pip"},
}


class FixError(BaseguardError):
    """A Dockerfile cannot be rewritten (it does not parse, or writing it failed)."""


@dataclass(frozen=True)
class Note:
    """Something the user should know about one line: ``warning`` or ``note``."""

    path: str
    line: int
    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.level}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "level": self.level, "message": self.message}


@dataclass(frozen=True)
class Change:
    """One rewrite: the ``FROM`` (or ``ARG``) line, the old and new image, and the entry."""

    line: int
    old: str
    new: str
    entry: str
    via_arg: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "old": self.old,
            "new": self.new,
            "entry": self.entry,
            "arg": self.via_arg,
        }


@dataclass
class FileFix:
    """What ``fix`` proposes for one file: the new bytes (None: untouched), changes, notes."""

    path: Path
    display: str
    original: bytes | None = None
    new: bytes | None = None
    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.new is not None and self.original is not None and self.new != self.original

    def diff(self) -> str:
        """A unified diff (``a/`` and ``b/`` prefixes), line endings kept as they are."""
        if not self.changed:
            return ""
        assert self.original is not None and self.new is not None
        before = split_lines(self.original.decode("utf-8"))
        after = split_lines(self.new.decode("utf-8"))
        out = []
        for line in difflib.unified_diff(
            before, after, fromfile=f"a/{self.display}", tofile=f"b/{self.display}"
        ):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.display,
            "changed": self.changed,
            "error": self.error,
            "changes": [c.to_dict() for c in self.changes],
            "notes": [n.to_dict() for n in self.notes],
        }


def split_lines(text: str) -> list[str]:
    """Lines with their endings; only ``\\n`` ends a line (as for BuildKit), so ``\\r\\n``
    stays on its line and no other character splits one."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


# --------------------------------------------------------------------------- parsing


@dataclass
class _Stage:
    index: int
    cmd: Any  # dockerfile.Command of its FROM
    image: str  # as written
    alias: str | None
    parent: int | None = None  # FROM <earlier stage>
    resolved: str | None = None  # the normalised image reference, None for stages/scratch
    commands: list[Any] = field(default_factory=list)


def escape_char(text: str) -> str:
    """The escape character set by a ``# escape=`` parser directive (default backslash)."""
    escape = "\\"
    for line in split_lines(text.lstrip("\ufeff")):
        m = _DIRECTIVE.fullmatch(line.rstrip("\r\n"))
        if m is None:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
    return escape


def parse(text: str, display: str) -> list[Any]:
    """BuildKit's parse, plus the checks its instruction parser makes before a build."""
    try:
        commands = list(dockerfile.parse_string(text))
    except dockerfile.GoParseError as exc:
        raise FixError(f"{display}: does not parse: {exc}; not touched") from None
    seen_from = False
    for cmd in commands:
        name = cmd.cmd.upper()
        if name not in INSTRUCTIONS:
            raise FixError(
                f"{display}:{cmd.start_line}: does not parse: unknown instruction "
                f"{cmd.cmd!r}; not touched"
            )
        if name == "FROM":
            seen_from = True
            values = list(cmd.value)
            if len(values) not in (1, 3) or (len(values) == 3 and values[1].upper() != "AS"):
                raise FixError(
                    f"{display}:{cmd.start_line}: does not parse: FROM takes an image and an "
                    "optional AS name; not touched"
                )
        elif name != "ARG" and not seen_from:
            raise FixError(
                f"{display}:{cmd.start_line}: does not parse: {name} before the first FROM; "
                "not touched"
            )
    if not seen_from:
        raise FixError(f"{display}: does not parse: no FROM instruction; not touched")
    return commands


# --------------------------------------------------------------------------- locating words


class _Text:
    """The file's text with line offsets, and the scanner that finds words in instructions."""

    def __init__(self, text: str, escape: str) -> None:
        self.text = text
        self.escape = escape
        self.starts = [0]
        for m in re.finditer("\n", text):
            self.starts.append(m.end())

    def line_start(self, line: int) -> int:
        return self.starts[line - 1]

    def line_end(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def _skip_space(self, pos: int, end: int) -> int:
        """Past spaces, tabs, line continuations and the comment lines inside them."""
        t = self.text
        while pos < end:
            c = t[pos]
            if c in " \t\ufeff":
                pos += 1
                continue
            if c == self.escape:
                m = _CONTINUATION.match(t, pos + 1)
                if m is None:
                    return pos
                pos = m.end()
                # Blank and comment lines inside a continued instruction are skipped.
                while pos < end:
                    line = _SKIPPED_LINE.match(t, pos)
                    if line is None or line.end() == pos:
                        break
                    pos = line.end()
                continue
            return pos
        return pos

    def words(self, line_from: int, line_to: int) -> list[tuple[int, int]]:
        """Spans of the words of the instruction on lines ``line_from``..``line_to``.

        A word ends at whitespace outside quotes or at a line continuation.
        """
        pos, end = self.line_start(line_from), self.line_end(line_to)
        t = self.text
        spans: list[tuple[int, int]] = []
        while True:
            pos = self._skip_space(pos, end)
            if pos >= end or t[pos] in "\r\n":
                return spans
            start, quote = pos, None
            while pos < end:
                c = t[pos]
                if quote:
                    if c == quote:
                        quote = None
                    elif c in "\r\n":
                        break
                elif c in "\"'":
                    quote = c
                elif c in " \t\r\n" or (c == self.escape and _CONTINUATION.match(t, pos + 1)):
                    break
                pos += 1
            spans.append((start, pos))


# --------------------------------------------------------------------------- what RUN needs


def run_needs(cmd: Any) -> tuple[bool, set[str]]:
    """(needs a shell, package tools used) for one RUN instruction."""
    if cmd.json:
        args = [str(v) for v in cmd.value]
        first = os.path.basename(args[0]) if args else ""
        if first in ("sh", "bash", "ash", "dash"):
            script = " ".join(args[1:])
            return True, {tool for tool, rx in _TOOLS if rx.search(script)}
        text = " ".join(args)
        tools = {tool for tool, rx in _TOOLS if rx.search(text)}
        return False, tools
    script = " ".join(str(v) for v in cmd.value)
    for doc in cmd.heredocs or ():
        script += "\n" + str(doc.content)
    return True, {tool for tool, rx in _TOOLS if rx.search(script)}


def _missing(facts_shell: bool, managers: set[str], shell: bool, tools: set[str]) -> list[str]:
    out = ["a shell"] if shell and not facts_shell else []
    out += sorted(t for t in tools if not (_PROVIDERS.get(t, {t}) & managers))
    return out


# --------------------------------------------------------------------------- the rewrite


@dataclass
class _Plan:
    stage: _Stage
    role: str
    choice: Choice
    new_ref: str


def fix_text(
    text: str,
    display: str,
    catalog: Catalog,
    measurer: Measurer,
    today: date,
    *,
    prefer: Sequence[str] = (),
) -> tuple[str, list[Change], list[Note]]:
    """The rewritten text, the changes made and the notes; raises :class:`FixError` if the
    file does not parse."""
    commands = parse(text, display)
    escape = escape_char(text)
    doc = _Text(text, escape)
    notes: list[Note] = []
    # Global ARGs (before the first FROM): name -> (default or None, the ARG command).
    args: dict[str, tuple[str | None, Any]] = {}
    stages: list[_Stage] = []
    for cmd in commands:
        name = cmd.cmd.upper()
        if name == "ARG" and not stages:
            for decl in cmd.value:
                key, sep, default = decl.partition("=")
                args[key.strip()] = (_unquote(default.strip()) if sep else None, cmd)
            continue
        if name == "FROM":
            values = list(cmd.value)
            alias = values[2] if len(values) == 3 else None
            stage = _Stage(len(stages), cmd, values[0], alias)
            defaults = {k: v for k, (v, _) in args.items() if v is not None}
            image, missing = expand(values[0], defaults)
            names = [s.alias.lower() for s in stages if s.alias]
            if missing:
                notes.append(
                    Note(
                        display,
                        cmd.start_line,
                        "note",
                        f"FROM {values[0]}: ARG {', '.join(missing)} has no default; not rewritten",
                    )
                )
            elif image.lower() in names:
                stage.parent = next(
                    s.index for s in stages if s.alias and s.alias.lower() == image.lower()
                )
            elif image.isdigit() and int(image) < len(stages):
                stage.parent = int(image)
            elif image.lower() != "scratch":
                stage.resolved = normalise(image)
                if stage.resolved is None:
                    notes.append(
                        Note(display, cmd.start_line, "note", f"invalid image reference {image!r}")
                    )
            stages.append(stage)
            continue
        if stages:
            stages[-1].commands.append(cmd)
    final = _final_base(stages)
    plans: list[_Plan] = []
    for stage in stages:
        if stage.resolved is None:
            continue
        role = "base" if stage.index == final else "build"
        plan = _plan(stage, role, display, catalog, measurer, today, notes, prefer)
        if plan is not None:
            plans.append(plan)
    edits, changes = _edits(plans, stages, args, doc, display, notes)
    new = text
    for start, end, value in sorted(edits, reverse=True):
        new = new[:start] + value + new[end:]
    return new, changes, sorted(notes, key=lambda n: (n.line, n.level, n.message))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _final_base(stages: list[_Stage]) -> int | None:
    """The stage whose image the final stage is built on (following FROM <stage>)."""
    index: int | None = len(stages) - 1
    hops = 0
    while index is not None and index >= 0 and hops <= len(stages):
        stage = stages[index]
        if stage.resolved is not None:
            return index
        index = stage.parent
        hops += 1
    return None


def _plan(
    stage: _Stage,
    role: str,
    display: str,
    catalog: Catalog,
    measurer: Measurer,
    today: date,
    notes: list[Note],
    prefer: Sequence[str],
) -> _Plan | None:
    assert stage.resolved is not None
    line = stage.cmd.start_line
    judgement = judge(catalog, stage.resolved, role, today)
    if judgement.verdict is Verdict.APPROVED:
        return None
    if judgement.verdict is Verdict.EXCEPTED:
        notes.append(Note(display, line, "note", f"{judgement.label}: not rewritten"))
        return None
    want = want_for(role)
    rec = recommend_reference(
        stage.resolved, want, catalog, measurer, today, alternatives=0, prefer=prefer
    )
    what = f"{stage.image} is {judgement.label}"
    if rec.best is None:
        notes.append(Note(display, line, "warning", f"{what}; {rec.reason}"))
        return None
    choice = rec.best
    new_ref = choice.pinned_reference
    if new_ref is None:
        notes.append(
            Note(
                display,
                line,
                "warning",
                f"{what}; recommended {choice.candidate.reference} ({choice.candidate.entry.id}) "
                f"but refusing to pin it: {choice.pin_reason}",
            )
        )
        return None
    if not _stage_fits(stage, role, choice, display, measurer, notes):
        return None
    for caveat in choice.caveats:
        notes.append(Note(display, line, "note", f"{choice.candidate.entry.id}: {caveat}"))
    return _Plan(stage, role, choice, new_ref)


def _stage_fits(
    stage: _Stage,
    role: str,
    choice: Choice,
    display: str,
    measurer: Measurer,
    notes: list[Note],
) -> bool:
    """False (with a warning and a proposal) if the stage's RUNs would break on the image."""
    facts = choice.measurement.facts
    target = choice.pinned_reference or choice.candidate.reference
    breaking: list[tuple[int, list[str]]] = []
    unknown: list[int] = []
    later: list[Note] = []  # notes that matter only if the FROM is rewritten
    for cmd in stage.commands:
        name = cmd.cmd.upper()
        if name in ("CMD", "ENTRYPOINT") and facts is not None and not facts.has_shell:
            program = str(cmd.value[0]) if cmd.json and cmd.value else ""
            if not cmd.json:
                later.append(
                    Note(
                        display,
                        cmd.start_line,
                        "warning",
                        f"{name} is in shell form and {target} has no shell: write it in exec "
                        'form (["/app", "arg"])',
                    )
                )
            elif program and "/" not in program:
                later.append(
                    Note(
                        display,
                        cmd.start_line,
                        "note",
                        f"{name} runs {program!r} from PATH; {target} has no shell or busybox "
                        f"applets: check that {program} is there (or COPY it in)",
                    )
                )
            continue
        if name != "RUN":
            continue
        shell, tools = run_needs(cmd)
        if not shell and not tools:
            continue
        if facts is None:
            unknown.append(cmd.start_line)
            continue
        managers = {p["name"] for p in facts.package_managers}
        missing = _missing(facts.has_shell, managers, shell, tools)
        if missing:
            breaking.append((cmd.start_line, missing))
    line = stage.cmd.start_line
    if breaking:
        where = "; ".join(f"line {n} needs {', '.join(m)}" for n, m in breaking)
        message = f"not rewritten to {target}: RUN would break there ({where})"
        if role != "build":
            message += "\n" + _proposal(stage, choice, measurer, [n for n, _ in breaking])
        else:
            message += (
                f"; the dev image has {_have(facts.has_shell if facts else False, choice)}: "
                "adapt those RUN lines, then run fix again"
            )
        notes.append(Note(display, line, "warning", message))
        return False
    if unknown:
        reason = choice.measurement.reason
        lines = ", ".join(str(n) for n in unknown)
        if role != "build":
            notes.append(
                Note(
                    display,
                    line,
                    "warning",
                    f"not rewritten to {target}: RUN at line {lines} needs a shell or a package "
                    f"manager, and whether {target} has them is not measured ({reason})",
                )
            )
            return False
        notes.append(
            Note(
                display,
                line,
                "note",
                f"{target} is a dev variant but was not measured ({reason}): check that it has "
                f"what the RUN at line {lines} uses",
            )
        )
    notes.extend(later)
    return True


def _have(has_shell: bool, choice: Choice) -> str:
    managers = choice.measurement.package_managers or []
    parts = ["a shell" if has_shell else "no shell"]
    parts.append(", ".join(managers) if managers else "no package manager")
    return " and ".join(parts)


def _proposal(stage: _Stage, choice: Choice, measurer: Measurer, lines: list[int]) -> str:
    """The multi-stage form: the dev variant as a build stage, COPY --from into the runtime."""
    entry = choice.candidate.entry
    variant, owner, _ = slot_for(entry, "dev")
    dev_ref: str | None = None
    unpinned: str | None = None
    if owner == "dev":
        reference, digests = concrete_reference(entry, variant)
        if reference is not None:
            m: Measurement = measurer.measure(reference, pinned=digests)
            digest = parse_reference(reference).digest or m.digest
            if digest is None and len(digests) == 1:
                digest = digests[0]
            if digest:
                dev_ref = parse_reference(reference).with_digest(digest).familiar
            else:
                dev_ref = parse_reference(reference).familiar
                unpinned = m.reason
    name = f"{stage.alias or 'runtime'}-build"
    first = (
        f"  FROM {dev_ref} AS {name}"
        + (f"   # no digest to pin yet: {unpinned}" if unpinned else "")
        if dev_ref
        else f"  FROM <a build image with a shell and package manager> AS {name}"
        f"  # {entry.id} has no dev variant"
    )
    return "\n".join(
        [
            f"  proposal: do that work in a build stage on {entry.id}'s dev variant and copy "
            "the result into the runtime image:",
            first,
            f"  RUN …   (the RUN at line{'s' if len(lines) > 1 else ''} "
            f"{', '.join(str(n) for n in lines)})",
            f"  FROM {choice.pinned_reference}" + (f" AS {stage.alias}" if stage.alias else ""),
            f"  COPY --from={name} <the files those RUN lines produce> <same paths>",
        ]
    )


def _uses_arg(image: str, arg: str) -> bool:
    return any((m.group(1) or m.group(2)) == arg for m in _ANY_ARG.finditer(image))


def _edits(
    plans: list[_Plan],
    stages: list[_Stage],
    args: dict[str, tuple[str | None, Any]],
    doc: _Text,
    display: str,
    notes: list[Note],
) -> tuple[list[tuple[int, int, str]], list[Change]]:
    edits: list[tuple[int, int, str]] = []
    changes: list[Change] = []
    by_arg: dict[str, list[_Plan]] = {}
    for plan in plans:
        cmd = plan.stage.cmd
        raw = plan.stage.image
        if "$" in raw:
            m = _PLAIN_ARG.fullmatch(raw)
            if m is None:
                notes.append(
                    Note(
                        display,
                        cmd.start_line,
                        "warning",
                        f"FROM {raw} builds the image name from ARGs; not rewritten "
                        f"(recommended: {plan.new_ref})",
                    )
                )
                continue
            by_arg.setdefault(m.group(1) or m.group(2), []).append(plan)
            continue
        span = _image_span(doc, cmd, raw)
        if span is None:
            notes.append(
                Note(
                    display,
                    cmd.start_line,
                    "warning",
                    f"could not locate the image word of this FROM exactly; not rewritten "
                    f"(recommended: {plan.new_ref})",
                )
            )
            continue
        edits.append((*span, plan.new_ref))
        changes.append(Change(cmd.start_line, raw, plan.new_ref, plan.choice.candidate.entry.id))
    for arg, group in sorted(by_arg.items()):
        targets = sorted({p.new_ref for p in group})
        first = group[0].stage.cmd.start_line
        default, arg_cmd = args.get(arg, (None, None))
        planned = {p.stage.cmd.start_line for p in group}
        others = sorted(
            s.cmd.start_line
            for s in stages
            if s.cmd.start_line not in planned and _uses_arg(s.image, arg)
        )
        if others:
            notes.append(
                Note(
                    display,
                    first,
                    "warning",
                    f"ARG {arg} also feeds the FROM at line {', '.join(map(str, others))}, which "
                    f"would change too; not rewritten (recommended here: {targets[0]})",
                )
            )
            continue
        if len(targets) > 1:
            notes.append(
                Note(
                    display,
                    first,
                    "warning",
                    f"ARG {arg} feeds FROM lines with different recommendations "
                    f"({', '.join(targets)}); not rewritten",
                )
            )
            continue
        if arg_cmd is None or default is None:
            notes.append(
                Note(
                    display,
                    first,
                    "warning",
                    f"FROM ${{{arg}}}: no global ARG {arg} default to rewrite; build with "
                    f"--build-arg {arg}={targets[0]}",
                )
            )
            continue
        span = _arg_span(doc, arg_cmd, arg, default)
        if span is None:
            notes.append(
                Note(
                    display,
                    arg_cmd.start_line,
                    "warning",
                    f"could not locate the default of ARG {arg} exactly; not rewritten "
                    f"(recommended: {targets[0]})",
                )
            )
            continue
        edits.append((*span, targets[0]))
        changes.append(
            Change(arg_cmd.start_line, default, targets[0], group[0].choice.candidate.entry.id, arg)
        )
        notes.append(
            Note(
                display,
                arg_cmd.start_line,
                "note",
                f"rewrote the default of ARG {arg} (used by FROM at line "
                f"{', '.join(str(p.stage.cmd.start_line) for p in group)}); a --build-arg "
                f"{arg}=… still overrides it",
            )
        )
    return edits, changes


def _image_span(doc: _Text, cmd: Any, raw: str) -> tuple[int, int] | None:
    words = doc.words(cmd.start_line, cmd.end_line)
    if not words or doc.text[words[0][0] : words[0][1]].upper() != "FROM":
        return None
    for start, end in words[1:]:
        word = doc.text[start:end]
        if word.startswith("--"):
            continue
        return (start, end) if word == raw else None
    return None


def _arg_span(doc: _Text, cmd: Any, name: str, default: str) -> tuple[int, int] | None:
    words = doc.words(cmd.start_line, cmd.end_line)
    if not words or doc.text[words[0][0] : words[0][1]].upper() != "ARG":
        return None
    for start, end in words[1:]:
        word = doc.text[start:end]
        key, sep, value = word.partition("=")
        if key != name or not sep:
            continue
        vstart = start + len(key) + 1
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            vstart, value = vstart + 1, value[1:-1]
        return (vstart, vstart + len(value)) if value == default else None
    return None


# --------------------------------------------------------------------------- files


def fix_file(
    path: Path,
    catalog: Catalog,
    measurer: Measurer,
    today: date,
    *,
    display: str | None = None,
    prefer: Sequence[str] = (),
) -> FileFix:
    """What ``fix`` proposes for one Dockerfile (never raises for a bad file: ``error``)."""
    result = FileFix(path, display or str(path))
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            result.error = f"{result.display}: {size} bytes, over the {MAX_BYTES} byte limit"
            return result
        data = path.read_bytes()
    except OSError as exc:
        result.error = f"{result.display}: cannot read: {exc.strerror or exc}"
        return result
    result.original = data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        result.error = f"{result.display}: not UTF-8 (byte {exc.start}); not touched"
        return result
    try:
        new, changes, notes = fix_text(
            text, result.display, catalog, measurer, today, prefer=prefer
        )
    except FixError as exc:
        result.error = exc.message
        return result
    result.changes, result.notes = changes, notes
    result.new = new.encode("utf-8")
    return result


def write_fix(fix: FileFix) -> None:
    """Replace the file with the rewritten bytes atomically (same directory, same mode).

    The file must still hold what was read: an edit made meanwhile is never overwritten.
    On any failure the file is left as it was and the temporary file is removed.
    """
    if not fix.changed:
        return
    assert fix.new is not None
    path = fix.path
    try:
        if path.read_bytes() != fix.original:
            raise FixError(
                f"{fix.display}: changed while fix was running; not written",
                hint="run fix again",
            )
        mode = path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise FixError(f"{fix.display}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(fix.new)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise FixError(f"{fix.display}: cannot write: {exc.strerror or exc}") from None
        raise
