//! Record keys: AT Protocol TIDs, and the one fixed for each delivery.
//!
//! Hand-written: a TID is 13 characters of a 64-bit number in a base-32 alphabet; no kept crate
//! offers only that without a full AT Protocol stack.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// The sortable base-32 alphabet of TIDs.
const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The TID of `micros` (microseconds since the Unix epoch, 53 bits) and `clock_id` (10 bits):
/// 13 characters, the top bit zero.
pub fn tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3FF);
    (0..13).rev().map(|i| char::from(ALPHABET[((value >> (i * 5)) & 0x1F) as usize])).collect()
}

/// Whether `s` is a TID as written by [`tid`].
pub fn is_tid(s: &str) -> bool {
    s.len() == 13
        && s.bytes().all(|b| ALPHABET.contains(&b))
        && s.bytes().next().is_some_and(|b| ALPHABET[..16].contains(&b))
}

/// The record key of one delivery: fixed by `(delivery id, started)`, where `started` is
/// [`Delivery::attempt_started_at`](crieur_core::Delivery::attempt_started_at).
///
/// Why that is stable exactly when it must be: the store hands an attempt that follows an
/// `unknown` outcome (and the reconciliation of it) the start of the first attempt that may have
/// sent the post, and keeps it until the post is settled or a person forces a resend with
/// `crieur resolve --retry`. A fresh start (a new key) happens only after an attempt that
/// provably sent nothing. The milliseconds of `started` give the TID's time; the delivery id's
/// SHA-256 fills the microseconds below them and the clock id, so two deliveries started in the
/// same millisecond get different keys (about one chance in a million of the same key, which
/// [`crate::BlueskyPublisher`] notices by comparing the record's text).
pub fn delivery_rkey(delivery_id: &str, started: Timestamp) -> String {
    let hash = Sha256::digest(delivery_id.as_bytes());
    let sub_ms = u64::from(u16::from_be_bytes([hash[0], hash[1]])) % 1000;
    let clock_id = u16::from_be_bytes([hash[2], hash[3]]) & 0x3FF;
    let millis = u64::try_from(started.as_millisecond()).unwrap_or(0);
    tid(millis.saturating_mul(1000).saturating_add(sub_ms), clock_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tid_is_thirteen_sortable_characters() {
        assert_eq!(tid(0, 0), "2222222222222");
        let a = tid(1_700_000_000_000_000, 5);
        let b = tid(1_700_000_000_000_001, 0);
        assert_eq!(a.len(), 13);
        assert!(a < b, "{a} sorts before {b}");
        assert!(is_tid(&a) && is_tid(&b));
        assert!(!is_tid("zzzzzzzzzzzzz"), "the top bit must be zero");
    }

    #[test]
    fn the_spec_example_tid_decodes_to_its_parts() {
        // 3jzfcijpj2z2a is the TID in the AT Protocol's own documentation.
        let value = "3jzfcijpj2z2a".bytes().fold(0u64, |acc, b| {
            let digit = ALPHABET.iter().position(|c| *c == b).unwrap_or(0) as u64;
            (acc << 5) | digit
        });
        assert_eq!(tid(value >> 10, (value & 0x3FF) as u16), "3jzfcijpj2z2a");
    }

    #[test]
    fn a_delivery_keeps_its_key_for_the_same_start_and_gets_another_for_a_new_one() {
        let t = Timestamp::from_millisecond(1_780_000_000_123).unwrap_or(Timestamp::UNIX_EPOCH);
        let later = Timestamp::from_millisecond(1_780_000_060_000).unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(delivery_rkey("p:c:0", t), delivery_rkey("p:c:0", t));
        assert_ne!(delivery_rkey("p:c:0", t), delivery_rkey("p:c:1", t));
        assert_ne!(delivery_rkey("p:c:0", t), delivery_rkey("p:c:0", later));
        assert!(is_tid(&delivery_rkey("p:c:0", t)));
    }
}
