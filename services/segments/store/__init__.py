"""The only code of the segments service touching its collections.

- ``customers``: profiles (the one collection every service reads), their facts,
  consent and suppression mirrors, interactions;
- ``segments``: segments, their member rows and recompute jobs;
- ``imports``: import jobs, their stored chunks, rejected rows and remembered mappings.

Each function is named for what it does in the domain's words, takes and returns
plain values or documents, and raises no HTTP error. Where a query has its shape
only because the store stand-in gets another one wrong, the comment says so.
"""
