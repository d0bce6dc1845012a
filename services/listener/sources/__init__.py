"""Sources behind one interface (base.Source): X, Mastodon, RSS/Atom."""

from __future__ import annotations

from services.listener.sources.base import AuthFailed, FetchResult, Post, Source, SourceError


def build(settings) -> dict[str, Source]:
    """Every source, configured from settings."""
    from services.listener.sources.mastodon import MastodonSource
    from services.listener.sources.rss import RssSource
    from services.listener.sources.x import XSource

    return {
        "x": XSource(
            settings.x_bearer_token,
            settings.x_api_base,
            settings.http_timeout,
            settings.first_poll_pages,
            settings.max_pages,
            settings.max_rate_limit_wait,
        ),
        "mastodon": MastodonSource(
            settings.mastodon_base_url,
            settings.mastodon_access_token,
            settings.http_timeout,
            settings.max_pages,
            settings.max_rate_limit_wait,
        ),
        "rss": RssSource(
            settings.http_timeout,
            settings.max_rate_limit_wait,
            outbound=settings.outbound(settings.http_timeout),
        ),
    }


__all__ = ["AuthFailed", "FetchResult", "Post", "Source", "SourceError", "build"]
