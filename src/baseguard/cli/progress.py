"""Progress bars for pulls and layer indexing, shown only to people on a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from baseguard.cli.common import show_progress, stderr_console

PullProgress = Callable[[str, int, int | None], None]
LayerProgress = Callable[[int, int], None]


@contextmanager
def progress_reporter(ref: str) -> Iterator[tuple[PullProgress | None, LayerProgress | None]]:
    """Yield (pull, layer) callbacks drawing bars on stderr, or (None, None) when quiet."""
    if not show_progress():
        yield None, None
        return
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}
    layer_task: list[TaskID] = []

    def pull(what: str, done: int, total: int | None) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(f"pull {what[7:19]}", total=total)
        bars.update(tasks[what], completed=done, total=total)

    def layers(done: int, total: int) -> None:
        if not layer_task:
            layer_task.append(bars.add_task("index layers", total=total))
        bars.update(layer_task[0], completed=done, total=total)

    with bars:
        yield pull, layers
