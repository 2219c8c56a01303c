//! Standard Webhooks signing: the `whsec_` secret and the `v1,` signature.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::digest::InvalidLength;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The shortest key accepted, in bytes (the Standard Webhooks spec asks for 24 to 64).
pub const MIN_KEY_BYTES: usize = 16;

/// Standard base64, with or without the trailing `=` (secrets are copied around by hand).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HMAC-SHA256 key of a channel, decoded from its `whsec_` secret. Its `Debug` shows nothing
/// of the key.
pub struct SigningKey(SecretSlice<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// Decodes `secret`: `whsec_` followed by the base64 of at least [`MIN_KEY_BYTES`] bytes
    /// (surrounding whitespace, such as a file's trailing newline, is ignored).
    ///
    /// # Errors
    /// A message saying what is wrong with the secret's form, never quoting it.
    pub fn from_secret(secret: &SecretString) -> Result<Self, &'static str> {
        let raw = secret.expose_secret().trim();
        let Some(encoded) = raw.strip_prefix(SECRET_PREFIX) else {
            return Err(
                "it must be \"whsec_\" followed by base64 (the Standard Webhooks form that the \
                 receiver shows; generate one with: echo \"whsec_$(openssl rand -base64 32)\")",
            );
        };
        let key = LENIENT_BASE64.decode(encoded).map_err(
            |_| "the part after \"whsec_\" is not valid base64 (standard alphabet A-Z a-z 0-9 + /)",
        )?;
        let key = SecretSlice::from(key);
        if key.expose_secret().len() < MIN_KEY_BYTES {
            return Err(
                "the key after \"whsec_\" is shorter than 16 bytes: use 24 to 64 random bytes \
                 (openssl rand -base64 32)",
            );
        }
        Ok(Self(key))
    }

    /// The `webhook-signature` value for one attempt: `v1,` + base64(HMAC-SHA256(key,
    /// `"{id}.{timestamp}.{body}"`)), over the exact body bytes.
    ///
    /// # Errors
    /// Only if the HMAC implementation refused the key's length, which HMAC-SHA256 never does
    /// (it takes keys of any length); kept as an error rather than a panic.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, InvalidLength> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.expose_secret())?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        Ok(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn signs_like_the_reference_implementation() {
        let key = SigningKey::from_secret(&SecretString::from(SECRET)).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let ours = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        let reference = standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
            .unwrap();
        assert_eq!(ours, reference);
        assert!(ours.starts_with("v1,"));
    }

    #[test]
    fn unpadded_and_padded_secrets_give_the_same_key() {
        // 32 bytes: 44 base64 characters with one '='.
        let padded = "whsec_Y3JpZXVyLXRlc3Qtc2lnbmluZy1rZXktMDEyMzQ1Njc=";
        let unpadded = padded.trim_end_matches('=');
        let a = SigningKey::from_secret(&SecretString::from(padded)).unwrap();
        let b = SigningKey::from_secret(&SecretString::from(format!(" {unpadded}\n"))).unwrap();
        assert_eq!(a.sign("id", 1, b"x").unwrap(), b.sign("id", 1, b"x").unwrap());
    }

    #[test]
    fn bad_secrets_are_refused_without_quoting_them() {
        for (secret, want) in [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must be \"whsec_\""),
            ("whsec_!!not-base64!!", "not valid base64"),
            ("whsec_c2hvcnQ=", "shorter than 16 bytes"),
            ("whsec_", "shorter than 16 bytes"),
        ] {
            let err = SigningKey::from_secret(&SecretString::from(secret)).unwrap_err();
            assert!(err.contains(want), "{secret}: {err}");
            let body = secret.trim_start_matches("whsec_");
            assert!(body.is_empty() || !err.contains(body), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SigningKey::from_secret(&SecretString::from(SECRET)).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
    }
}
