//! The domain of crieur, shared by every other crate.
//!
//! Data flows one way: post files become [`Post`]s and the config becomes [`Channel`]s (crate
//! `crieur-config`); the policy renders and judges them (`crieur-policy`); the scheduler lays them on
//! [`Slot`]s and dispatches [`Delivery`]s (`crieur-scheduler`); the store records intent and outcome
//! (`crieur-store`); an adapter behind the [`Publisher`] trait sends them (`crieur-net-*`).
//!
//! This crate does no I/O. It holds plain values, the [`Publisher`] contract every network adapter
//! fits, the [`Store`](store::Store) contract the database backends fit (module [`store`]), and
//! the [`Clock`] through which everything else reads the time (so tests can drive it).

mod cadence;
mod clock;
mod diagnostic;
pub mod engagement;
mod ledger;
mod location;
mod network;
mod parallel;
mod post;
mod publisher;
pub mod store;

pub use cadence::{Cadence, CadenceError, DaySet};
pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use diagnostic::{Diagnostic, Severity};
pub use ledger::{LedgerError, MediaLedger, MemoryLedger, UploadedMedia};
pub use location::Location;
pub use network::{Network, UnknownNetwork};
pub use parallel::map_parallel;
pub use post::{
    Article, Channel, LinkCard, MediaRef, Post, PostOptions, PostTime, Slot, ThreadItem, Variant,
    Visibility, is_language_tag,
};
pub use publisher::{
    Attachment, CredentialCheck, Delivery, Outcome, Publisher, Reconciled, RejectKind, TokenVault,
    Tokens, VaultError,
};
