//! The `crieur` command line.
fn main() {}
