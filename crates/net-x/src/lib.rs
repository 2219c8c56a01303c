//! crieur-net-x (being written).
