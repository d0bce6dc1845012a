"""Imports of customer files as jobs."""
from apiflask import APIBlueprint

bp = APIBlueprint("imports", __name__, tag="imports")
