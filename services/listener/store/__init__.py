"""The listener's store: the only code touching its collections (listening queries,
source cursors, mentions, alert episodes, webhook calls, sentiment model versions).

One module per part of the data, re-exported here (``from services.listener import
store``; ``store.find_mention(...)``):

- ``queries``: listening queries and their per-source cursors (with the poller's lease);
- ``mentions``: storing a batch of mentions, triage, paging, daily figures;
- ``alerts``: alert episodes and webhook calls;
- ``models``: the stored sentiment model versions.

Each function is named for what it does, takes and returns plain values or
documents, and raises no HTTP error. Queries the store stand-in gets wrong are
reshaped here, each with a comment (``$and``-wrapped filters on ``query_ids``).
"""

from services.listener.store.alerts import (
    claim_open_episode,
    close_episode,
    episode_exists,
    episode_page,
    open_episode,
    raise_episode_peak,
    record_webhook_call,
    set_webhook_status,
)
from services.listener.store.mentions import (
    add_query_to_mentions,
    corrected_mentions,
    count_mentions,
    count_posted,
    customers_by_social_key,
    daily_counts,
    find_mention,
    insert_new_mentions,
    mention_page,
    mentions_by_id,
    mentions_with_ids,
    update_mention_if,
)
from services.listener.store.models import (
    SENTIMENT_MODELS,
    active_model,
    add_model,
    model_version_taken,
    model_versions,
    stored_model,
    use_model,
    use_shipped_model,
)
from services.listener.store.queries import (
    active_queries,
    add_cursor,
    add_query,
    cursor_lease,
    cursor_pairs,
    cursors_by_query,
    cursors_of,
    delete_query,
    find_query,
    query_page,
    restart_stopped_sources,
    stop_source,
    streamed_queries,
    update_query,
)

__all__ = [
    "SENTIMENT_MODELS",
    "active_model",
    "active_queries",
    "add_cursor",
    "add_model",
    "add_query",
    "add_query_to_mentions",
    "claim_open_episode",
    "close_episode",
    "episode_exists",
    "corrected_mentions",
    "count_mentions",
    "count_posted",
    "cursor_lease",
    "cursor_pairs",
    "cursors_by_query",
    "cursors_of",
    "customers_by_social_key",
    "daily_counts",
    "delete_query",
    "episode_page",
    "find_mention",
    "find_query",
    "insert_new_mentions",
    "mention_page",
    "mentions_by_id",
    "mentions_with_ids",
    "model_version_taken",
    "model_versions",
    "open_episode",
    "query_page",
    "raise_episode_peak",
    "record_webhook_call",
    "restart_stopped_sources",
    "set_webhook_status",
    "stop_source",
    "stored_model",
    "streamed_queries",
    "update_mention_if",
    "update_query",
    "use_model",
    "use_shipped_model",
]
