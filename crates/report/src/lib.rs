//! `crieur report`: what went out against the plan, and how it did.
//!
//! The report is computed from what the database knows (every delivery with its due time, state,
//! publication time and URL, and the latest engagement snapshot of each), the post files (category
//! and campaign of each post) and the config (each channel's cadence and zone, the policy's
//! `max_silence` and `mix`). It sends nothing and writes nothing.
//!
//! [`build`] turns those inputs into a [`Report`], a plain value whose serde form is the JSON of
//! the CLI contract; [`table`], [`csv`](fn@csv) and [`html`] render it. The crate sits above the
//! config, policy and scheduler crates and beside the store: it reads the store's model types from
//! `crieur_core::store`, so it needs no database of its own and the binary stays a thin wiring of
//! "open the store, read, build, print".
//!
//! What the numbers mean, per channel, over the window `[from, to)`:
//! - **slots**: every delivery (a post itself, not the replies of its thread) due in the window, in
//!   whatever state, plus every slot of the channel's cadence that passed (before now) with no
//!   delivery due at it. So `slots = published + failed + skipped + unknown + cancelled + pending`.
//! - **skipped**: cadence slots that passed empty (the plan had room, nothing went out).
//! - **pending**: deliveries not settled yet (`queued`, `publishing`, `retrying`).
//! - **late_p50_s**: the median of `published_at - due_at` over published deliveries, in seconds.
//! - **longest_silence_h**: the longest stretch with no publication, from the window's start (or
//!   the channel's last publication before it) to its end (or now, when the window reaches past
//!   now), in hours; `silences` lists the stretches longer than the policy's `max_silence`.
//!
//! The **mix** counts each post once (whatever its number of channels) among the posts published
//! in the window on the selected channels, against the targets of `[policy] mix`. Posts without a
//! category count in the total, as the policy's `mix.min_share` rule counts them. A delivery whose
//! post is no longer in the files has no category or campaign.

mod compute;
mod csv;
mod html;
mod table;
mod window;

pub use compute::{
    ChannelSummary, MetricsRow, MixShare, PostRow, Report, Silence, Total, WeekCount, build,
};
pub use csv::csv;
pub use html::html;
pub use table::table;
pub use window::{Window, WindowError};

use std::collections::BTreeMap;

use crieur_config::Config;
use crieur_core::Post;
use crieur_core::engagement::Snapshot;
use crieur_core::store::StatusRow;
use jiff::Timestamp;

/// Everything [`build`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The config: channels (cadence, zone, network) and policy.
    pub config: &'a Config,
    /// The posts of the queue files: category and campaign of each post id.
    pub posts: &'a [Post],
    /// Every delivery the database knows (`Store::status`).
    pub deliveries: &'a [StatusRow],
    /// The latest engagement snapshot of each delivery, by delivery id.
    pub metrics: &'a BTreeMap<String, Snapshot>,
    /// The window reported on.
    pub window: &'a Window,
    /// The channels to report on; empty means every channel.
    pub channels: &'a [String],
    /// The current time: cadence slots after it are not yet missed.
    pub now: Timestamp,
}

/// Reads what a report needs from the store: every delivery, and the latest snapshot of each.
///
/// # Errors
/// When the database cannot be read.
pub async fn read(
    store: &dyn crieur_core::store::Store,
) -> Result<(Vec<StatusRow>, BTreeMap<String, Snapshot>), crieur_core::store::StoreError> {
    let deliveries = store.status().await?.deliveries;
    let latest = store.latest_snapshots().await?;
    Ok((deliveries, latest.into_iter().map(|s| (s.delivery.clone(), s)).collect()))
}

/// Why a report cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `--channel` names a channel that is neither in the config nor in the database.
    #[error(
        "unknown channel {0:?}: name a channel of the config's [channels] (or one the database \
         knows)"
    )]
    UnknownChannel(String),
    /// A channel's cadence cannot be laid out.
    #[error("cannot lay out the slots of a channel")]
    Slots(#[from] crieur_scheduler::SlotError),
    /// The CSV writer failed.
    #[error("cannot write the CSV")]
    Csv(#[from] ::csv::Error),
}

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;
