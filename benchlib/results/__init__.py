"""The results store: versioned JSON-lines records and a tidy DataFrame view."""

from benchlib.results.schema import REQUIRED_KEYS, SCHEMA_VERSION, failed_record, make_record, missing_keys
from benchlib.results.store import append_record, flatten, load, read_records, to_csv

__all__ = [
    "REQUIRED_KEYS",
    "SCHEMA_VERSION",
    "append_record",
    "failed_record",
    "flatten",
    "load",
    "make_record",
    "missing_keys",
    "read_records",
    "to_csv",
]
