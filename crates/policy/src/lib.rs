//! crieur-policy (being written).
