//! Faults, crashes and hostile answers across every network, with the delivery invariant checked
//! after each scenario.
//!
//! One mock on loopback speaks X, LinkedIn, Facebook, a Standard Webhooks receiver, Mastodon and
//! a Bluesky PDS, and injects faults per request (scripted per post, or drawn from a seeded RNG):
//! rate limits, 5xx before or after creating the post, connections dropped after processing or
//! reset before the body, answers past the client timeout, 401 then a refresh, malformed or empty
//! or 100 MB bodies, a 1 MB header. The real `crieur run` publishes through it, killed with SIGKILL
//! at random moments on SQLite and PostgreSQL. After each scenario: every (post, channel) was
//! accepted at most once, and `crieur status` says `published` with the right id for exactly
//! those, with a reason for every other one.

mod mock;
mod world;

mod budget;
mod chaos;
mod doctor;
mod lease;
mod matrix;
mod restart;
mod secrets;
mod selfcheck;
mod systemd;
mod watch;
