"""The segments service. Customer profiles, imports and segments, kept fresh as events arrive."""
