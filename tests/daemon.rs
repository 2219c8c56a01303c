//! The daemon end to end: the real binary, a real database, a webhook receiver on loopback.
