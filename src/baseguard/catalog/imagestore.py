"""Where an image reference is read from: a local image store first, then its registry.

A store is an OCI layout whose index tags each image with its full reference name
(``org.opencontainers.image.ref.name: docker.io/library/alpine:3.20``), as
``skopeo copy docker://alpine:3.20 oci:store:docker.io/library/alpine:3.20`` writes it. It
lets an assessment run offline (air-gapped sites, the bundled demo).
"""

from __future__ import annotations

import json
from pathlib import Path

from baseguard.errors import ImageError
from baseguard.image.model import ANNOTATION_REF_NAME
from baseguard.refs import parse_reference


class ImageStore:
    """The references an OCI layout holds, normalised."""

    def __init__(self, path: Path) -> None:
        self.path = path
        index = path / "index.json"
        if not index.is_file():
            raise ImageError(
                f"{path}: not an image store (no index.json)",
                hint="an image store is an OCI layout; fill it with skopeo copy … oci:DIR:REF",
            )
        try:
            doc = json.loads(index.read_bytes())
        except ValueError as exc:
            raise ImageError(f"{index}: not valid JSON ({exc})") from exc
        hint = "an image store is an OCI layout; fill it with skopeo copy … oci:DIR:REF"
        if not isinstance(doc, dict):
            raise ImageError(f"{index}: not an OCI index (not a JSON object)", hint=hint)
        manifests = doc.get("manifests") or []
        if not isinstance(manifests, list):
            raise ImageError(f"{index}: not an OCI index ('manifests' is not a list)", hint=hint)
        self.refs: dict[str, str] = {}
        for number, entry in enumerate(manifests):
            if not isinstance(entry, dict):
                raise ImageError(f"{index}: manifests[{number}] is not an object", hint=hint)
            annotations = entry.get("annotations") or {}
            name = annotations.get(ANNOTATION_REF_NAME) if isinstance(annotations, dict) else None
            if not name or not isinstance(name, str):
                continue
            try:
                self.refs[str(parse_reference(name))] = name
            except Exception:  # a plain tag ("latest") names no reference
                continue

    def source_for(self, reference: str) -> str | None:
        """The ``oci:`` source for a normalised reference, if the store has it."""
        name = self.refs.get(reference)
        return f"oci:{self.path}:{name}" if name else None
