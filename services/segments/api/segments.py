"""Segments: dynamic (a rule) and static (a list)."""
from apiflask import APIBlueprint

bp = APIBlueprint("segments", __name__, tag="segments")
