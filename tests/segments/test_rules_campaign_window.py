"""The campaign rule node with a time window: "opened nothing in the last 30
days" means the last 30 days, not ever; unknown keys (``days``, typos) are
refused instead of silently meaning "ever"."""

from __future__ import annotations

import datetime

from services.segments import profiles
from services.segments.consumers import on_delivery
from shared.messaging.contracts import DeliveryOpened, envelope_for
from shared.models import Customer
from shared.store import utcnow


def opened(customer_id, campaign_id: str, days_ago: float) -> None:
    """A delivery.opened as the mailer announces it, through the segments worker's own handler."""
    when = (utcnow() - datetime.timedelta(days=days_ago)).replace(tzinfo=datetime.UTC)
    event = DeliveryOpened(
        delivery_id=f"d-{customer_id}-{campaign_id}",
        campaign_id=campaign_id,
        customer_id=str(customer_id),
        channel="email",
    )
    on_delivery(envelope_for(event, "mailer", None, occurred_at=when))


def names(api, rule) -> list[str]:
    answer = api.post("/segments/preview", json={"rule": rule, "sample": 100})
    assert answer.status_code == 200, answer.json
    return sorted(c["first_name"] for c in answer.json["sample"])


def test_within_days_reads_when_the_campaign_was_opened(api):
    ids = {}
    for name in ("Reciente", "Antigua", "Nunca", "Ambas"):
        doc = profiles.new_document({"first_name": name, "email": f"{name.lower()}@example.es"})
        ids[name] = Customer._get_collection().insert_one(doc).inserted_id
    opened(ids["Reciente"], "c1", 3)
    opened(ids["Antigua"], "c1", 60)
    opened(ids["Ambas"], "c1", 60)
    opened(ids["Ambas"], "c2", 1)
    assert names(api, {"campaign": {"event": "opened", "within_days": 30}}) == ["Ambas", "Reciente"]
    assert names(api, {"campaign": {"event": "opened", "campaign_id": "c1", "within_days": 30}}) == [
        "Reciente"
    ]
    assert names(
        api, {"campaign": {"event": "opened", "campaign_id": "c1", "within_days": {"weeks": 10}}}
    ) == ["Ambas", "Antigua", "Reciente"]
    # "opened nothing in the last 30 days"
    assert names(api, {"not": {"campaign": {"event": "opened", "within_days": 30}}}) == ["Antigua", "Nunca"]
    assert names(api, {"campaign": {"event": "opened"}}) == ["Ambas", "Antigua", "Reciente"]  # ever


def test_the_campaign_node_refuses_unknown_keys_and_bad_windows(api):
    for body, field in (
        ({"event": "opened", "days": 30}, "rule.campaign"),
        ({"event": "opened", "bogus": 1}, "rule.campaign"),
        ({"event": "opened", "within_days": 0}, "rule.campaign.within_days"),
        ({"event": "opened", "within_days": "30"}, "rule.campaign.within_days"),
        ({"event": "opened", "within_days": {"years": 1}}, "rule.campaign.within_days"),
    ):
        answer = api.post("/segments/preview", json={"rule": {"campaign": body}})
        assert answer.status_code == 422, body
        assert field in answer.json["details"]["fields"], (body, answer.json)
    assert (
        "unexpected keys days"
        in api.post("/segments/preview", json={"rule": {"campaign": {"event": "opened", "days": 30}}}).json[
            "details"
        ]["fields"]["rule.campaign"][0]
    )
