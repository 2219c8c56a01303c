//! The `Idempotency-Key` of a delivery.

use crieur_core::Delivery;
use sha2::{Digest, Sha256};

/// The `Idempotency-Key` every request of `delivery`'s current generation carries.
///
/// Derived from the delivery id (itself derived from post, channel and thread item) and the
/// instant the store gives as [`Delivery::attempt_started_at`]. That instant is the start of the
/// first attempt that may have reached the network, and the store keeps it across every retry
/// and reconciliation of the delivery; it changes only when nothing can have been sent (an
/// attempt refused before processing, such as a 429) or when a person forces a resend with
/// `crieur resolve --retry`, which starts a new generation. So a retry within the server's hour
/// returns the status the first request created, and a forced resend is a new status.
pub fn idempotency_key(delivery: &Delivery) -> String {
    let mut h = Sha256::new();
    for part in
        [delivery.id.as_bytes(), &delivery.attempt_started_at.as_millisecond().to_le_bytes()]
    {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("crieur-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::delivery;

    #[test]
    fn every_attempt_of_one_generation_carries_the_same_key() {
        let first = delivery("d1", "hello");
        let mut retry = first.clone();
        retry.attempt = 4;
        retry.may_have_been_sent = true;
        assert_eq!(idempotency_key(&first), idempotency_key(&retry));
        assert!(idempotency_key(&first).starts_with("crieur-"));
        assert_eq!(idempotency_key(&first).len(), "crieur-".len() + 32);
    }

    #[test]
    fn another_delivery_or_a_forced_resend_gets_another_key() {
        let first = delivery("d1", "hello");
        assert_ne!(idempotency_key(&first), idempotency_key(&delivery("d2", "hello")));
        let mut resend = first.clone();
        resend.attempt_started_at =
            first.attempt_started_at + jiff::SignedDuration::from_secs(7200);
        assert_ne!(idempotency_key(&first), idempotency_key(&resend));
    }
}
