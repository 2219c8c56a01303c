//! End-to-end tests: the real `crieur` binary, real files, a real database, mock networks on
//! loopback. One test binary with one module per area (faster to link than many).

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

mod daemon;
mod errors;
mod fuzz_corpus;
mod html_page;
mod living;
mod metrics;
mod preview;
mod reliability;
mod validate;
mod writing;
