"""Local HTTP servers that speak the third-party APIs' real response shapes,
for the real client libraries (tweepy, Mastodon.py, feedparser via requests)
to talk to: X API v2 recent search, Mastodon hashtag timelines, RSS 2.0
feeds, and a webhook receiver. Each test starts its own on a free port."""

from __future__ import annotations

import bisect
import datetime
import json
import threading
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape


def iso_z(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeSocial:
    """State of every fake API, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tweets: list[dict] = []  # {"id", "text", "author", "name", "lang", "at"}, oldest first
        self.tweet_ids: list[int] = []  # their ids, ascending (a page is a bisect, not a sort)
        self.statuses: dict[str, list[dict]] = {}  # tag -> statuses
        self.feed_items: list[dict] = []  # {"guid", "title", "summary", "at", "author"}
        self.fail: dict[str, list[int]] = {"x": [], "mastodon": [], "rss": [], "hook": [], "stream": []}
        self.requests: list[tuple[str, str]] = []
        self.hooks: list[dict] = []
        self.x_page_size = 2
        self.rules: dict[str, dict] = {}  # X filtered stream rules by id
        self.stream_batches: list[list[dict]] = []  # what each stream connection delivers, then closes
        self.stream_connections = 0
        self.reset_in = 1  # seconds until a 429's reset

    # --- content ------------------------------------------------------------
    def add_tweet(self, text, author="someone", name="Some One", lang="es", at=None):
        with self.lock:
            tweet_id = str(1_860_000_000_000_000_000 + len(self.tweets) + 1)
            self.tweets.append(
                {
                    "id": tweet_id,
                    "text": text,
                    "author": author,
                    "name": name,
                    "lang": lang,
                    "at": at or datetime.datetime.now(datetime.UTC),
                }
            )
            self.tweet_ids.append(int(tweet_id))
            return tweet_id

    def add_status(self, tag, text, acct="someone", lang="es", at=None):
        with self.lock:
            statuses = self.statuses.setdefault(tag.lower(), [])
            status_id = str(113_000_000_000_000_000 + sum(len(s) for s in self.statuses.values()) + 1)
            statuses.append(
                {
                    "id": status_id,
                    "text": text,
                    "acct": acct,
                    "lang": lang,
                    "at": at or datetime.datetime.now(datetime.UTC),
                }
            )
            return status_id

    def add_item(self, title, summary="", guid=None, at=None, author=""):
        with self.lock:
            guid = guid or f"https://blog.example.com/p/{len(self.feed_items) + 1}"
            self.feed_items.append(
                {
                    "guid": guid,
                    "title": title,
                    "summary": summary,
                    "author": author,
                    "at": at or datetime.datetime.now(datetime.UTC),
                }
            )
            return guid

    # --- responses ------------------------------------------------------------
    def x_search(self, params):
        since = int(params.get("since_id", ["0"])[0])
        offset = int(params.get("next_token", ["0"])[0] or 0)
        with self.lock:  # newest first: the page is counted back from the end
            first = bisect.bisect_right(self.tweet_ids, since)
            end = len(self.tweets) - offset
            page = self.tweets[max(first, end - self.x_page_size) : max(first, end)][::-1]
            matching = len(self.tweets) - first
        if not page:
            return {"meta": {"result_count": 0}}
        meta = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if offset + self.x_page_size < matching:
            meta["next_token"] = str(offset + self.x_page_size)
        users = {
            t["author"]: {
                "id": str(abs(hash(t["author"])) % 10**12),
                "username": t["author"],
                "name": t["name"],
            }
            for t in page
        }
        data = [
            {
                "id": t["id"],
                "text": t["text"],
                "edit_history_tweet_ids": [t["id"]],
                "author_id": users[t["author"]]["id"],
                "created_at": iso_z(t["at"]),
                "lang": t["lang"],
                "conversation_id": t["id"],
            }
            for t in page
        ]
        return {"data": data, "includes": {"users": list(users.values())}, "meta": meta}

    def stream_line(self, text, author, tag, lang="es"):
        """One filtered-stream message as X sends it (a tweet, its author, the matching rule)."""
        tweet_id = self.add_tweet(text, author=author, lang=lang)
        tweet = self.tweets[-1]
        rule_id = next((rid for rid, rule in self.rules.items() if rule["tag"] == tag), "0")
        return {
            "data": {
                "id": tweet_id,
                "text": text,
                "edit_history_tweet_ids": [tweet_id],
                "author_id": "42",
                "created_at": iso_z(tweet["at"]),
                "lang": lang,
            },
            "includes": {"users": [{"id": "42", "username": author, "name": author.title()}]},
            "matching_rules": [{"id": rule_id, "tag": tag}],
        }

    def rules_post(self, body):
        with self.lock:
            if "add" in body:
                created = []
                for rule in body["add"]:
                    rule_id = str(1_700_000_000_000_000_000 + len(self.rules) + 1 + len(created))
                    created.append({"id": rule_id, "value": rule["value"], "tag": rule.get("tag")})
                for rule in created:
                    self.rules[rule["id"]] = rule
                return {
                    "data": created,
                    "meta": {
                        "sent": iso_z(datetime.datetime.now(datetime.UTC)),
                        "summary": {
                            "created": len(created),
                            "not_created": 0,
                            "valid": len(created),
                            "invalid": 0,
                        },
                    },
                }
            ids = body.get("delete", {}).get("ids", [])
            for rule_id in ids:
                self.rules.pop(rule_id, None)
            return {
                "meta": {
                    "sent": iso_z(datetime.datetime.now(datetime.UTC)),
                    "summary": {"deleted": len(ids), "not_deleted": 0},
                }
            }

    def mastodon_tag(self, tag, params, host):
        limit = int(params.get("limit", ["20"])[0])
        min_id = params.get("min_id", [None])[0]
        with self.lock:
            statuses = sorted(self.statuses.get(tag.lower(), []), key=lambda s: int(s["id"]))
        if min_id is not None:
            chosen = [s for s in statuses if int(s["id"]) > int(min_id)][:limit]
        else:
            chosen = statuses[-limit:]
        return [
            {
                "id": s["id"],
                "created_at": iso_z(s["at"]),
                "in_reply_to_id": None,
                "sensitive": False,
                "spoiler_text": "",
                "visibility": "public",
                "language": s["lang"],
                "uri": f"http://{host}/users/{s['acct']}/statuses/{s['id']}",
                "url": f"http://{host}/@{s['acct']}/{s['id']}",
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "content": f"<p>{escape(s['text'])}</p>",
                "reblog": None,
                "account": {
                    "id": str(abs(hash(s["acct"])) % 10**9),
                    "username": s["acct"].split("@")[0],
                    "acct": s["acct"],
                    "display_name": s["acct"].title(),
                    "locked": False,
                    "bot": False,
                    "url": f"http://{host}/@{s['acct']}",
                    "avatar": "",
                    "header": "",
                    "followers_count": 1,
                    "following_count": 1,
                    "statuses_count": 1,
                    "created_at": "2024-01-01T00:00:00.000Z",
                    "note": "",
                    "emojis": [],
                    "fields": [],
                },
                "media_attachments": [],
                "mentions": [],
                "tags": [{"name": tag, "url": ""}],
                "emojis": [],
                "card": None,
                "poll": None,
            }
            for s in reversed(chosen)
        ]

    def rss(self):
        with self.lock:
            items = sorted(self.feed_items, key=lambda i: i["at"], reverse=True)
        body = "".join(
            f"<item><title>{escape(i['title'])}</title><link>{escape(i['guid'])}</link>"
            f'<guid isPermaLink="true">{escape(i["guid"])}</guid>'
            f"<pubDate>{format_datetime(i['at'].astimezone(datetime.UTC), usegmt=True)}</pubDate>"
            f"<author>{escape(i['author'])}</author>"
            f"<description>{escape(i['summary'])}</description></item>"
            for i in items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Blog</title><link>https://blog.example.com/</link><description>d</description>"
            f"{body}</channel></rss>"
        ).encode()


def start(state: FakeSocial | None = None):
    """(server, base_url, state); call server.shutdown() to stop."""
    state = state or FakeSocial()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, body, content_type="application/json", headers=None):
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def failure(self, api):
            with state.lock:
                return state.fail[api].pop(0) if state.fail[api] else None

        def do_GET(self):
            parts = urlsplit(self.path)
            params = parse_qs(parts.query)
            state.requests.append(("GET", self.path))
            reset = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=state.reset_in)
            if parts.path == "/2/tweets/search/stream/rules":
                with state.lock:
                    rules = list(state.rules.values())
                body = {
                    "meta": {
                        "sent": iso_z(datetime.datetime.now(datetime.UTC)),
                        "result_count": len(rules),
                    }
                }
                if rules:
                    body["data"] = rules
                return self.send(200, body)
            if parts.path == "/2/tweets/search/stream":
                code = self.failure("stream")
                if code:
                    return self.send(
                        code,
                        {
                            "title": "Unauthorized",
                            "type": "about:blank",
                            "status": code,
                            "detail": "Unauthorized",
                        },
                    )
                with state.lock:
                    state.stream_connections += 1
                    batch = state.stream_batches.pop(0) if state.stream_batches else []
                # HTTP/1.0 without a length: the body ends when the server closes the stream.
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"\r\n")  # keep-alive
                for message in batch:
                    self.wfile.write(json.dumps(message).encode() + b"\r\n")
                    self.wfile.flush()
                return None
            if parts.path == "/2/tweets/search/recent":
                code = self.failure("x")
                if code == 429:
                    return self.send(
                        429,
                        {
                            "title": "Too Many Requests",
                            "detail": "Too Many Requests",
                            "type": "about:blank",
                            "status": 429,
                        },
                        headers={
                            "x-rate-limit-limit": "450",
                            "x-rate-limit-remaining": "0",
                            "x-rate-limit-reset": str(int(reset.timestamp())),
                        },
                    )
                if code in (401, 403):
                    return self.send(
                        code,
                        {
                            "title": "Unauthorized" if code == 401 else "Forbidden",
                            "type": "about:blank",
                            "status": code,
                            "detail": "Unauthorized" if code == 401 else "Forbidden",
                        },
                    )
                if code and code >= 500:
                    return self.send(
                        code,
                        {
                            "title": "Service Unavailable",
                            "type": "about:blank",
                            "status": code,
                            "detail": "Service Unavailable",
                        },
                    )
                if self.headers.get("Authorization") != "Bearer test-bearer":
                    return self.send(
                        401,
                        {
                            "title": "Unauthorized",
                            "type": "about:blank",
                            "status": 401,
                            "detail": "Unauthorized",
                        },
                    )
                return self.send(200, state.x_search(params))
            if parts.path.startswith("/api/v1/timelines/tag/"):
                code = self.failure("mastodon")
                if code == 429:
                    return self.send(
                        429,
                        {"error": "Too many requests"},
                        headers={
                            "X-RateLimit-Limit": "300",
                            "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": reset.isoformat(),
                        },
                    )
                if code in (401, 403):
                    return self.send(code, {"error": "The access token is invalid"})
                tag = parts.path.rsplit("/", 1)[1]
                return self.send(200, state.mastodon_tag(tag, params, self.headers.get("Host")))
            if parts.path == "/feed.xml":
                code = self.failure("rss")
                if code == 429:
                    return self.send(429, b"slow down", "text/plain", headers={"Retry-After": "1"})
                if code in (401, 403):
                    return self.send(code, b"no", "text/plain")
                return self.send(200, state.rss(), "application/rss+xml; charset=utf-8")
            return self.send(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path == "/2/tweets/search/stream/rules":
                return self.send(200, state.rules_post(json.loads(body)))
            if self.path == "/hook":
                code = self.failure("hook")
                state.hooks.append({"status": code or 200, "body": json.loads(body or b"{}")})
                return self.send(code or 200, {"ok": code is None})
            return self.send(404, {"error": "not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", state
