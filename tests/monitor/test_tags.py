"""Following catalog tags to digests against a real local docker-registry."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from baseguard.analysis.analyze import analyze
from baseguard.catalog.model import CatalogEntry
from baseguard.image.registry import RegistryClient
from baseguard.monitor.tags import followed_tags, poll_tags, tag_history
from baseguard.store import Store
from tests.monitor.builders import T0

pytestmark = pytest.mark.registry


def copy(host: str, source: str, dest: str, *, all_images: bool = False) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("needs skopeo")
    cmd = [skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false"]
    if all_images:
        cmd.append("--all")
    cmd += [f"docker://{host}/{source}", f"docker://{host}/{dest}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]


def entry(repository: str, tags: list[str]) -> CatalogEntry:
    return CatalogEntry.from_dict(
        {
            "id": "app",
            "provider": "internal",
            "repository": repository,
            "tags": tags,
            "lifecycle": {"state": "approved"},
            "patch_sla": {"critical": "24h"},
        }
    )


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient() as c:
        yield c


def test_tag_moves_are_recorded_with_their_digests_and_analyses(
    plain_registry: Any, store: Store, client: RegistryClient
) -> None:
    host = plain_registry.host
    repo = f"{host}/watched/app"
    e = entry(repo, ["stable"])
    copy(host, "alpine:3.10", "watched/app:stable")
    analysed: list[str] = []

    def analyzer(reference: str) -> Any:
        analysed.append(reference)
        return analyze(reference)

    first = poll_tags(store, client, [e], now=T0, analyzer=analyzer)
    assert first.errors == []
    (obs1,) = first.changed
    assert (obs1.entry_id, obs1.tag, obs1.previous, obs1.seen_at) == ("app", "stable", None, T0)
    assert analysed == [f"{repo}@{obs1.digest}"]
    assert store.load_analysis(obs1.analysis_digest or "") is not None

    again = poll_tags(store, client, [e], now=T0 + timedelta(minutes=30), analyzer=analyzer)
    assert again.changed == [] and again.checked == 1
    assert len(analysed) == 1

    copy(host, "alpine:3.20.3", "watched/app:stable", all_images=True)
    moved = poll_tags(store, client, [e], now=T0 + timedelta(hours=1), analyzer=analyzer)
    (obs2,) = moved.changed
    assert obs2.previous == obs1.digest
    assert obs2.digest != obs1.digest
    assert obs2.seen_at == T0 + timedelta(hours=1)
    # The tag names an index; the analysis is kept under the linux/amd64 manifest's digest.
    assert obs2.analysis_digest not in (None, obs2.digest)
    analysis = store.load_analysis(obs2.analysis_digest or "")
    assert analysis is not None and analysis.image.index_digest == obs2.digest

    history = tag_history(store)
    assert [o.digest for o in history[("app", "stable")]] == [obs1.digest, obs2.digest]


def test_glob_tags_are_expanded_from_the_registry_tag_list(
    plain_registry: Any, client: RegistryClient
) -> None:
    e = entry(f"{plain_registry.host}/alpine", ["3.*"])
    assert followed_tags(e, client) == [("3.10", None), ("3.20.3", None)]


def test_a_missing_tag_is_an_error_and_the_round_goes_on(
    plain_registry: Any, store: Store, client: RegistryClient
) -> None:
    e = entry(f"{plain_registry.host}/alpine", ["3.10", "no-such-tag"])
    report = poll_tags(store, client, [e], now=T0)
    assert [o.tag for o in report.changed] == ["3.10"]
    assert [t for t, _ in report.errors] == [f"{plain_registry.host}/alpine:no-such-tag"]
