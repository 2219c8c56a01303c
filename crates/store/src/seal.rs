//! Tokens at rest: ChaCha20-Poly1305 with a fresh random 12-byte nonce per write and the
//! channel name as associated data (a sealed row copied to another channel does not open).

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use crieur_core::Tokens;
use jiff::Timestamp;
use secrecy::zeroize::Zeroizing;
use serde::{Deserialize, Serialize};

use crate::{Key, StoreError};

/// What is sealed: both tokens and the expiry (the clear `expires_at` column is only for
/// `status`). Written from borrowed strings, so no extra copy of a token lingers.
#[derive(Serialize)]
struct PlainRef<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    expires_at_ms: Option<i64>,
}

/// [`PlainRef`], read back.
#[derive(Deserialize)]
struct Plain {
    access_token: String,
    refresh_token: Option<String>,
    expires_at_ms: Option<i64>,
}

/// A sealed token row: nonce and ciphertext (with its tag).
pub(crate) struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Seals `tokens` for `channel`.
pub(crate) fn seal(key: &Key, channel: &str, tokens: &Tokens) -> Result<Sealed, StoreError> {
    let plain = PlainRef {
        access_token: &tokens.access_token,
        refresh_token: tokens.refresh_token.as_deref(),
        expires_at_ms: tokens.expires_at.map(Timestamp::as_millisecond),
    };
    let json = Zeroizing::new(
        serde_json::to_vec(&plain)
            .map_err(|e| StoreError::Invalid(format!("tokens of {channel:?}: {e}")))?,
    );
    let cipher = ChaCha20Poly1305::new(key.bytes().into());
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: &json, aad: channel.as_bytes() })
        .map_err(|_| StoreError::Invalid(format!("tokens of {channel:?} could not be sealed")))?;
    Ok(Sealed { nonce: nonce.to_vec(), ciphertext })
}

/// Opens a sealed row of `channel`.
pub(crate) fn open(
    key: &Key,
    channel: &str,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<Tokens, StoreError> {
    let fail = || StoreError::Decrypt { channel: channel.to_owned() };
    if nonce.len() != 12 {
        return Err(fail());
    }
    let cipher = ChaCha20Poly1305::new(key.bytes().into());
    let json = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: channel.as_bytes() })
            .map_err(|_| fail())?,
    );
    let plain: Plain = serde_json::from_slice(&json).map_err(|_| fail())?;
    let expires_at = match plain.expires_at_ms {
        Some(ms) => Some(Timestamp::from_millisecond(ms).map_err(|_| fail())?),
        None => None,
    };
    Ok(Tokens { access_token: plain.access_token, refresh_token: plain.refresh_token, expires_at })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens {
            access_token: "access-AAAA".into(),
            refresh_token: Some("refresh-BBBB".into()),
            expires_at: Some(Timestamp::from_second(1_800_000_000).unwrap()),
        }
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let key = Key::from_bytes([7; 32]);
        let a = seal(&key, "company-x", &tokens()).unwrap();
        let b = seal(&key, "company-x", &tokens()).unwrap();
        assert_ne!(a.nonce, b.nonce, "every write draws a new nonce");
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!a.ciphertext.windows(4).any(|w| w == b"AAAA"));
        assert_eq!(open(&key, "company-x", &a.nonce, &a.ciphertext).unwrap(), tokens());
    }

    #[test]
    fn wrong_key_channel_or_bytes_fail_cleanly() {
        let key = Key::from_bytes([7; 32]);
        let sealed = seal(&key, "company-x", &tokens()).unwrap();
        let other = Key::from_bytes([8; 32]);
        let err = open(&other, "company-x", &sealed.nonce, &sealed.ciphertext).unwrap_err();
        assert!(err.to_string().contains("cannot be decrypted"), "{err}");
        assert!(open(&key, "company-li", &sealed.nonce, &sealed.ciphertext).is_err());
        let mut flipped = sealed.ciphertext.clone();
        flipped[0] ^= 1;
        assert!(open(&key, "company-x", &sealed.nonce, &flipped).is_err());
        assert!(open(&key, "company-x", &[0; 3], &sealed.ciphertext).is_err());
    }
}
