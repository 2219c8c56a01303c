//! crieur-scheduler (being written).
