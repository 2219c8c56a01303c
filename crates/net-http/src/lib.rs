//! crieur-net-http (being written).
