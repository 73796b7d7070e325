"""Dockerfiles and Containerfiles, parsed with BuildKit's own parser (the `dockerfile` package).

Multi-stage builds: the final stage's base is *the* base image; earlier stages' bases,
``COPY --from=<image>`` and ``RUN --mount=from=<image>`` are build images. ``FROM builder``
(a stage alias or index) and ``scratch`` are not images. Global ``ARG`` defaults apply to
``FROM`` lines and can be overridden with build args.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import dockerfile

from baseguard.inventory.model import ImageUse, InventoryIssue, Location
from baseguard.inventory.sources.base import FileResult, InventorySource, ScanContext, normalise

NAME_PATTERNS = (
    "Dockerfile",
    "*.Dockerfile",
    "*.dockerfile",
    "Dockerfile.*",
    "Containerfile",
    "Containerfile.*",
    "*.Containerfile",
)
_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def expand(value: str, args: dict[str, str]) -> tuple[str, list[str]]:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alt}``; list unset names."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        op, word = m.group("op"), m.group("word") or ""
        val = args.get(name)
        if op in (":-", "-"):
            return val if val else word if op == ":-" else (val if val is not None else word)
        if op in (":+", "+"):
            return word if val else ""
        if val is None:
            missing.append(name)
            return m.group(0)
        return val

    return _VAR.sub(sub, value), missing


def _flag(flags: tuple[str, ...], name: str) -> str | None:
    for f in flags:
        if f.startswith(f"--{name}="):
            return f.split("=", 1)[1]
    return None


def _mount_from(flags: tuple[str, ...]) -> list[str]:
    out = []
    for f in flags:
        if f.startswith("--mount="):
            for part in f[len("--mount=") :].split(","):
                key, _, val = part.partition("=")
                if key.strip() == "from" and val:
                    out.append(val.strip())
    return out


class DockerfileSource(InventorySource):
    name: ClassVar[str] = "dockerfile"
    name_patterns: ClassVar[tuple[str, ...]] = NAME_PATTERNS

    def scan(self, path: Path, text: str, ctx: ScanContext) -> FileResult:
        display = ctx.display(path)
        result = FileResult()
        try:
            commands = dockerfile.parse_string(text)
        except dockerfile.GoParseError as exc:
            result.issues.append(InventoryIssue(display, f"not a valid Dockerfile: {exc}"))
            return result
        args: dict[str, str] = {}
        stages: list[str] = []  # lower-cased stage names (or "#N"), by index
        #: Per stage: index into ``found`` of its base image, or the stage it builds on.
        stage_base: list[tuple[int | None, int | None]] = []
        found: list[tuple[str, int, str | None]] = []  # (raw image, line, platform)
        roles: list[str] = []
        seen_from = False
        for cmd in commands:
            name = cmd.cmd.upper()
            if name == "ARG" and not seen_from:
                for decl in cmd.value:
                    key, sep, default = decl.partition("=")
                    key = key.strip()
                    if key in ctx.build_args:
                        args[key] = ctx.build_args[key]
                    elif sep:
                        args[key] = default.strip().strip('"').strip("'")
                continue
            if name == "FROM":
                seen_from = True
                values = list(cmd.value)
                alias = (
                    values[2].lower()
                    if len(values) >= 3 and values[1].upper() == "AS"
                    else f"#{len(stages)}"
                )
                image, missing = expand(values[0], args) if values else ("", [])
                base: tuple[int | None, int | None] = (None, None)
                if not values:
                    result.issues.append(
                        InventoryIssue(display, "FROM without an image", cmd.start_line)
                    )
                elif missing:
                    result.issues.append(
                        InventoryIssue(
                            display,
                            f"FROM {values[0]}: ARG {', '.join(missing)} has no value "
                            "(pass --build-arg)",
                            cmd.start_line,
                        )
                    )
                elif image.lower() in stages:
                    base = (None, stages.index(image.lower()))
                elif image.lower() != "scratch":
                    found.append((image, cmd.start_line, _flag(cmd.flags, "platform")))
                    roles.append("build")
                    base = (len(found) - 1, None)
                stages.append(alias)
                stage_base.append(base)
                continue
            refs: list[str] = []
            if name == "COPY":
                src = _flag(cmd.flags, "from")
                if src:
                    refs.append(src)
            elif name == "RUN":
                refs.extend(_mount_from(cmd.flags))
            for raw in refs:
                image, missing = expand(raw, args)
                if missing or image.isdigit() or image.lower() in stages:
                    continue
                found.append((image, cmd.start_line, None))
                roles.append("build")
        # The final stage's base image (following FROM <stage> chains) is *the* base image.
        stage = len(stage_base) - 1
        hops = 0
        while stage >= 0 and hops <= len(stage_base):
            image_index, parent = stage_base[stage]
            if image_index is not None:
                roles[image_index] = "base"
                break
            stage = parent if parent is not None else -1
            hops += 1
        for (raw, line, platform), role in zip(found, roles, strict=True):
            ref = normalise(raw)
            if ref is None:
                result.issues.append(
                    InventoryIssue(display, f"invalid image reference {raw!r}", line)
                )
                continue
            result.uses.append(
                ImageUse(ref, raw, role, self.name, Location(display, line), platform=platform)
            )
        return result
