"""The Vínculo services; each runs alone: ``python -m services.<name> <part>``."""
