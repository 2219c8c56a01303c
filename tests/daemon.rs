//! The daemon end to end: the real binary, a real database, a webhook receiver on loopback.
//!
//! Each test writes a project (config, post files, SQLite file or a scratch PostgreSQL database),
//! starts `crieur run` processes, and watches what a Standard Webhooks receiver on 127.0.0.1 gets:
//! when, how often, with which signature. Post times are fixed a few seconds after the test starts
//! (or the daemon's clock is moved with the hidden `--now`), so each test takes seconds.

mod harness;
pub(crate) mod receiver;
mod uploads;

mod basics;
mod bluesky;
mod crash;
mod mastodon;
mod media;
mod media_networks;
mod postgres;
mod reload;
mod report;
mod restart;
mod signals;
mod storage;
mod time;
