"""Pins the geo filter the segment rules compile to: ``$geoWithin`` with
``$centerSphere`` (radius in radians) on a GeoJSON point, as real MongoDB
answers it from the 2dsphere index. The stand-in evaluates it by haversine."""

from __future__ import annotations

from shared.models import Customer

EARTH_KM = 6378.1
MADRID = [-3.7038, 40.4168]


def within(km: float, center=MADRID) -> dict:
    return {"location": {"$geoWithin": {"$centerSphere": [center, km / EARTH_KM]}}}


def test_center_sphere_matches_points_inside_the_radius_only(mongo_uri):
    getafe = Customer(email="getafe@example.com", location=[-3.7325, 40.3083]).save()  # ~12.3 km
    Customer(email="toledo@example.com", location=[-4.0273, 39.8628]).save()  # ~67 km
    Customer(email="sin.sitio@example.com").save()
    collection = Customer._get_collection()
    assert [d["_id"] for d in collection.find(within(15))] == [getafe.id]
    assert collection.count_documents(within(10)) == 0
    assert collection.count_documents(within(100)) == 2
    # Combined with other conditions and an _id, as incremental membership asks.
    assert (
        collection.count_documents({"$and": [within(15), {"_id": getafe.id}, {"erased": {"$ne": True}}]}) == 1
    )
    # Across the antimeridian, the distance is the short way round.
    fiji = Customer(email="fiji@example.com", location=[179.9, -17.0]).save()
    assert [d["_id"] for d in collection.find(within(50, [-179.9, -17.0]))] == [fiji.id]
