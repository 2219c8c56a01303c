//! crieur-net-oauth (being written).
