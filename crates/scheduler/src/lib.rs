//! crieur's scheduler: when each channel publishes, and which post goes in which slot.
//!
//! - [`slots`] turns a channel's cadence into instants. Slots are computed from the local wall
//!   clock in the channel's IANA zone, each day afresh, with jiff: a time that falls in a
//!   daylight-saving gap moves forward by the gap's length (02:30 -> 03:30), a time in a fold
//!   happens once, at its first occurrence. Cron cadences go through the same path: croner decides
//!   which local days and times of day match, jiff turns each into an instant, so a cron slot
//!   obeys the same gap and fold rules and never runs twice in a fold.
//! - [`calendar`] lays the queue on those slots: fixed times first, then the other posts in queue
//!   order (priority, file, place in file), each channel filled on its own from the present on.
//!   [`lay`] gives the preview's window, [`assign`] the daemon's due instants; both come from the
//!   same code, so what the preview shows is what the daemon does.
//!
//! - [`dispatch`] is the daemon's loop: it claims due deliveries from the store, sends them through
//!   each channel's [`Publisher`](crieur_core::Publisher), and records the outcomes.
//! - [`media`] reads a delivery's media files when it is sent (metadata removed by
//!   `crieur-media`), so adapters get [`Delivery::media`](crieur_core::Delivery::media) filled.
//!
//! Slots and calendar are pure: no I/O, no clock (the caller passes `now`), no async. Only
//! [`dispatch`] talks to the store and the network, through traits.

pub mod calendar;
pub mod dispatch;
pub mod media;
pub mod slots;

pub use calendar::{
    Calendar, Entry, History, Placement, Prior, assign, fixed_instant, lay, queue_order,
};
pub use slots::{MAX_SLOTS_PER_DAY, Schedule, SlotError, Slots, slots_between, slots_per_day};
