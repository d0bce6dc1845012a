"""mongoengine operations the services use, end to end through the store."""

from __future__ import annotations

import mongoengine as me

from tests.store.conftest import T0


class Stats(me.EmbeddedDocument):
    total = me.FloatField(default=0)
    last_at = me.DateTimeField()


class Person(me.Document):
    email = me.StringField(unique=True, sparse=True)
    plan = me.StringField()
    tags = me.ListField(me.StringField())
    attributes = me.DictField()
    stats = me.EmbeddedDocumentField(Stats, default=Stats)
    owner_id = me.ObjectIdField()
    at = me.DateTimeField()
    meta = {"collection": "contract_people", "indexes": ["at"]}


def _people():
    Person.ensure_indexes()
    return [
        Person(
            email=f"p{i}@example.com",
            plan="pro" if i % 2 else "free",
            tags=["vip"] if i < 3 else [],
            attributes={"plan": "pro" if i % 2 else "free", "seats": i},
            at=T0.replace(hour=i),
        ).save()
        for i in range(6)
    ]


def test_save_of_changed_embedded_documents_and_dict_keys(mongo_uri):
    person = _people()[0]
    person.stats.total = 12.5
    person.stats.last_at = T0
    person.attributes["city"] = "Lima"
    del person.attributes["seats"]
    person.save()
    raw = Person._get_collection().find_one({"_id": person.id})
    assert raw["stats"] == {"total": 12.5, "last_at": T0}
    assert raw["attributes"] == {"plan": "free", "city": "Lima"}


def test_queryset_filters(mongo_uri):
    people = _people()
    assert Person.objects(attributes__plan="pro").count() == 3
    assert Person.objects(tags="vip").count() == 3
    assert Person.objects(tags__size=0).count() == 3
    assert Person.objects(plan__in=["pro"], attributes__seats__gte=3).count() == 2
    assert Person.objects(plan__ne="pro").count() == 3
    assert Person.objects(owner_id__exists=False).count() == 6
    assert Person.objects(stats__total=0).count() == 6
    assert [p.email for p in Person.objects.order_by("-at").limit(2)] == ["p5@example.com", "p4@example.com"]
    assert Person.objects.only("email").first().plan is None
    assert set(Person.objects.in_bulk([people[0].id, people[1].id])) == {people[0].id, people[1].id}
    assert Person.objects(email__startswith="p1").count() == 1


def test_update_with_several_operators_and_modify(mongo_uri):
    people = _people()
    updated = Person.objects(plan="pro").update(
        set__attributes__tier="gold", inc__stats__total=2.5, push__tags="new", set__at=T0
    )
    assert updated == 3
    assert Person.objects(attributes__tier="gold", stats__total=2.5, tags="new", at=T0).count() == 3
    person = Person.objects(id=people[0].id).modify(new=True, set__plan="pro", add_to_set__tags="vip")
    assert (person.plan, person.tags) == ("pro", ["vip"])
    assert Person.objects(id=people[0].id, plan="free").modify(set__plan="x") is None


def test_aggregate_through_mongoengine(mongo_uri):
    _people()
    rows = list(
        Person.objects(tags="vip").aggregate(
            [{"$group": {"_id": "$plan", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]
        )
    )
    assert rows == [{"_id": "free", "n": 2}, {"_id": "pro", "n": 1}]
