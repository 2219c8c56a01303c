//! Test helpers shared by crieur's crates and its end-to-end tests (dev-only, never published).
//!
//! [`postgres`] gives tests a PostgreSQL server without touching the machine's: a throwaway
//! cluster made by `initdb` in a temporary folder and run by `pg_ctl` on a free loopback port.
//! One cluster is shared by a whole test binary (started on first use); because a `static` is
//! never dropped, a small watcher process, tied to the test process by a pipe, stops the cluster
//! and removes its folder once the test process is gone, however it ends.

pub mod postgres;
