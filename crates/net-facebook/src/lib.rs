//! crieur-net-facebook (being written).
