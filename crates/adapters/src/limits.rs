//! The limits each channel's server announces, read through its network crate.

use crieur_config::{Config, NetworkSettings};
use crieur_core::store::ServerLimits;
use crieur_net_http::HttpClient;

/// Why a channel's server limits could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Http(#[from] crieur_net_http::BuildError),
    /// The Mastodon server did not give its limits.
    #[error(transparent)]
    Mastodon(#[from] crieur_net_mastodon::LimitsError),
}

/// Reads the limits of every channel whose network announces them (Mastodon:
/// `GET /api/v2/instance`), one server at a time, by channel name.
pub async fn server_limits(
    config: &Config,
    now: jiff::Timestamp,
) -> Vec<(String, Result<ServerLimits, LimitsError>)> {
    let mut out = Vec::new();
    for (name, channel) in &config.channels {
        let NetworkSettings::Mastodon(m) = &channel.settings else { continue };
        let read = async {
            let http = HttpClient::builder().build()?;
            Ok(crieur_net_mastodon::read_server_limits(&http, &m.instance, now).await?)
        };
        out.push((name.clone(), read.await));
    }
    out
}
