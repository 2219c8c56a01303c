//! crieur-policy (being written).

mod emoji;
mod tld;
pub mod x;
