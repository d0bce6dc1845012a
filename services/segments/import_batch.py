"""One batch of an import's rows merged into the store with a handful of round trips:
one indexed ``$in`` query per key (external id, email, phone), the merge in memory
(external id first, then email, then phone), one ``insert_many`` and one
``bulk_write``. A row that changes nothing writes nothing; suppressed or erased
contacts are skipped with a reason, never re-created."""

from __future__ import annotations

from dataclasses import dataclass, field

from bson import ObjectId

from services.segments import import_announce, import_consent, import_messages, profiles, world
from services.segments.import_rows import Row
from services.segments.models import ImportJob
from services.segments.store import customers as customer_store
from shared.messaging.contracts import ConsentImported
from shared.models import contact_hash
from shared.store import utcnow


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    consents: int = 0  # consent statements announced to the mailer
    guessed: int = 0  # time zones guessed from a country with several
    rejections: list = field(default_factory=list)
    events: list = field(default_factory=list)
    intent: object = None  # the batch's outbox intent (written before its writes), if it announces anything
    envelopes: list = field(default_factory=list)  # the intent's envelopes of what was written
    touched: set = field(default_factory=set)  # profile fields changed ("*": people created)


def _apply(state: dict, update: dict) -> None:
    state.update(update.get("$set", {}))


class Batch:
    """Merge one batch of rows into the store with a handful of round trips."""

    def __init__(self, settings, job: ImportJob, rows: list[Row], seen: dict | None = None, outbox=None):
        self.settings, self.job, self.rows = settings, job, rows
        self.outbox = outbox
        # customer id -> the first line of this file about them: a later row is a duplicate
        self.seen = {} if seen is None else seen
        self.language = getattr(job, "language", None) or "en"
        self.outcome = Outcome()
        self.statements: dict[int, list[dict]] = {}  # line -> consent statements of a valid row
        self.person_of: dict[int, object] = {}  # line -> customer id (rows merged or created)

    def say(self, code: str, **params) -> str:
        return import_messages.text(code, self.language, **params)

    def warn(self, row: Row, name: str, reason: str) -> None:
        """Imported, but something was guessed: reported beside the rejections, not counted as one."""
        self.outcome.rejections.append(
            {
                "job_id": self.job.id,
                "row": row.line,
                "field": name,
                "reason": reason,
                "skipped": False,
                "warning": True,
            }
        )
        self.outcome.guessed += 1

    def _guessed(self, row: Row, zone: str, country: str) -> None:
        """The row gave no zone: its country's main one was taken, and the country has several."""
        count = world.country_zone(country)[1]
        self.warn(row, "time_zone", self.say("zone_guessed", zone=zone, country=country, count=count))

    def reject(self, row: Row, errors, skipped: bool = False) -> None:
        for name, reason in errors:
            self.outcome.rejections.append(
                {"job_id": self.job.id, "row": row.line, "field": name, "reason": reason, "skipped": skipped}
            )
        if skipped:
            self.outcome.skipped += 1
        else:
            self.outcome.rejected += 1

    def run(self) -> Outcome:
        ready: list[tuple[Row, dict]] = []
        for row in self.rows:
            if row.errors:
                self.reject(row, row.errors)
                continue
            values, errors = profiles.normalise(row.data, self.job.default_country)
            errors = {name: import_messages.reason(why, self.language, name) for name, why in errors.items()}
            statements, consent_errors = import_consent.parse(row.consent)
            errors.update(
                {
                    name: import_messages.text(code, self.language, **params)
                    for name, code, params in consent_errors
                }
            )
            if errors:
                self.reject(row, sorted(errors.items()))
                continue
            if not any(values.get(k) for k in ("external_id", "email", "phone")):
                self.reject(row, [("_row", self.say("row_no_key"))])
                continue
            if statements:
                self.statements[row.line] = statements
            ready.append((row, values))
        ready = self._drop_suppressed(ready)
        self._merge(ready)
        return self.outcome

    def _drop_suppressed(self, ready):
        hashes = {}
        for _, values in ready:
            for kind in ("email", "phone"):
                if values.get(kind):
                    hashes[contact_hash(kind, values[kind])] = kind
        if not hashes:
            return ready
        found = customer_store.suppressed_hashes(list(hashes))
        kept = []
        for row, values in ready:
            hit = next(
                (
                    (kind, found[contact_hash(kind, values[kind])])
                    for kind in ("email", "phone")
                    if values.get(kind) and contact_hash(kind, values[kind]) in found
                ),
                None,
            )
            if hit:
                self.reject(row, [(hit[0], self.say("suppressed", reason=hit[1]))], skipped=True)
            else:
                kept.append((row, values))
        return kept

    def _merge(self, ready) -> None:
        exts = [v["external_id"] for _, v in ready if v.get("external_id")]
        emails = [v["email"] for _, v in ready if v.get("email")]
        phones = [v["phone"] for _, v in ready if v.get("phone")]
        found = customer_store.customers_by_keys({"external_id": exts, "email": emails, "phone": phones})
        docs = [found[i] for i in sorted(found)]
        index = {"external_id": {}, "email": {}, "phone": {}}
        states: dict = {}

        def remember(state):
            for key in index:
                if state.get(key):
                    index[key].setdefault(state[key], state)

        for doc in docs:
            states[doc["_id"]] = doc
            remember(doc)
        new_docs: list[tuple[dict, list[int]]] = []
        new_ids: set = set()
        updates: dict = {}
        changed_fields: set[str] = set()
        rows_of: dict = {}
        for row, values in ready:
            match = None
            for key in ("external_id", "email", "phone"):
                if values.get(key) and values[key] in index[key]:
                    match, how = index[key][values[key]], f"{key} {values[key]}"
                    break
            if match is not None:
                conflict = self._conflict(match, values, index)
                if conflict:
                    self.reject(row, [conflict])
                    continue
                if match.get("erased"):
                    self.reject(row, [("_row", self.say("erased"))], skipped=True)
                    continue
                if match["_id"] in self.seen:  # two rows of this file about one person: said, not merged
                    self.reject(row, [("_row", self.say("duplicate", line=self.seen[match["_id"]], key=how))])
                    continue
                self.seen[match["_id"]] = row.line
                self.person_of[row.line] = match["_id"]
                update = profiles.merge_changes(match, values)
                if not update:
                    self.outcome.unchanged += 1
                    continue
                after = {**match, **update["$set"]}
                moved = {"time_zone", "time_zone_origin"} & set(update["$set"])
                if moved and after.get("time_zone_origin") == "guess":  # a new country brought its main zone
                    self._guessed(row, after["time_zone"], after["country"])
                _apply(match, update)
                remember(match)
                updates.setdefault(match["_id"], {}).update(update["$set"])
                changed_fields.update(profiles.changed_fields(update))
                rows_of.setdefault(match["_id"], []).append(row.line)
                self.outcome.updated += 1
            else:
                doc = profiles.new_document(values)
                if doc["time_zone_origin"] == "guess":
                    self._guessed(row, doc["time_zone"], doc["country"])
                doc["_id"] = ObjectId()
                self.seen[doc["_id"]] = row.line
                new_ids.add(doc["_id"])
                self.person_of[row.line] = doc["_id"]
                rows_of[doc["_id"]] = [row.line]
                new_docs.append((doc, [row.line]))
                remember(doc)
                self.outcome.created += 1
        now = utcnow()
        planned = import_announce.planned(
            self.settings, self.job, new_docs, updates, changed_fields, self.statements, self.person_of
        )
        # The intent goes before the writes: a crash after them leaves it for the relay.
        intent = import_announce.intend(self.outbox, [event for _, event in planned], now)
        created = self._insert(new_docs, rows_of)
        updated = self._update(updates, rows_of, now)
        if created:
            self.outcome.touched.add("*")
        self.outcome.touched.update(changed_fields)
        lost = ({doc["_id"] for doc, _ in new_docs} - set(created)) | (set(updates) - set(updated))
        kept = [i for i, (cid, _) in enumerate(planned) if cid not in lost]
        self.outcome.events = [planned[i][1] for i in kept]
        self.outcome.consents = sum(isinstance(e, ConsentImported) for e in self.outcome.events)
        if intent is not None:
            self.outcome.intent = intent
            self.outcome.envelopes = [intent.envelopes[i] for i in kept]

    def _conflict(self, match: dict, values: dict, index: dict):
        """A row that would join two different people, or relabel one: (field, reason)."""
        for key in ("external_id", "email"):
            other = index[key].get(values.get(key)) if values.get(key) else None
            if other is not None and other["_id"] != match["_id"]:
                return key, self.say("conflict_other", other=other["_id"])
        if (
            values.get("external_id")
            and match.get("external_id")
            and values["external_id"] != match["external_id"]
        ):
            return "external_id", self.say("conflict_external", value=match["external_id"])
        return None

    def _insert(self, new_docs, rows_of) -> list:
        if not new_docs:
            return []
        docs = [doc for doc, _ in new_docs]
        failed = customer_store.insert_customers(docs)
        for i in sorted(failed):
            doc = docs[i]
            self.outcome.created -= 1
            self.outcome.rejected += 1
            for line in rows_of[doc["_id"]]:
                self.outcome.rejections.append(
                    {
                        "job_id": self.job.id,
                        "row": line,
                        "field": "_row",
                        "reason": self.say("race_created"),
                        "skipped": False,
                    }
                )
        return [doc["_id"] for i, doc in enumerate(docs) if i not in failed]

    def _update(self, updates: dict, rows_of, now) -> list:
        if not updates:
            return []
        ids = list(updates)
        failed = customer_store.set_customers_fields(
            [(cid, {**updates[cid], "updated_at": now}) for cid in ids]
        )
        for i in sorted(failed):
            self.outcome.updated -= len(rows_of[ids[i]])
            self.outcome.rejected += len(rows_of[ids[i]])
            for line in rows_of[ids[i]]:
                self.outcome.rejections.append(
                    {
                        "job_id": self.job.id,
                        "row": line,
                        "field": "email",
                        "reason": self.say("race_email"),
                        "skipped": False,
                    }
                )
        return [cid for i, cid in enumerate(ids) if i not in failed]
