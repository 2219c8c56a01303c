//! crieur-net-linkedin (being written).
