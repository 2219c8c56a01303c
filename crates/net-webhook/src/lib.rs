//! crieur-net-webhook (being written).
