//! crieur-store (being written).
