"""Feed plug-ins, keyed by the name ``baseguard db update --only`` takes.

Adding a feed is one module with a :class:`~baseguard.vulndb.feeds.base.Feed` subclass and
one line here (plus where it lives in the mirror layout, in :mod:`baseguard.vulndb.sources`).
"""

from __future__ import annotations

from baseguard.vulndb.feeds.base import AdvisoryFeed, Feed, FeedStats, Source
from baseguard.vulndb.feeds.debian import DebianTrackerFeed
from baseguard.vulndb.feeds.epss import EpssFeed
from baseguard.vulndb.feeds.kev import KevFeed
from baseguard.vulndb.feeds.osv import OsvFeed
from baseguard.vulndb.feeds.secdb import AlpineSecdbFeed, ChainguardSecdbFeed, WolfiSecdbFeed

FEEDS: dict[str, type[Feed]] = {
    OsvFeed.name: OsvFeed,
    AlpineSecdbFeed.name: AlpineSecdbFeed,
    WolfiSecdbFeed.name: WolfiSecdbFeed,
    ChainguardSecdbFeed.name: ChainguardSecdbFeed,
    DebianTrackerFeed.name: DebianTrackerFeed,
    KevFeed.name: KevFeed,
    EpssFeed.name: EpssFeed,
}

__all__ = ["FEEDS", "AdvisoryFeed", "Feed", "FeedStats", "Source"]
