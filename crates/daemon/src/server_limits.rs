//! The limits each channel's server announces (Mastodon's `max_characters`): read when the
//! daemon starts, kept in the store, and laid over the config's channels so the policy counts
//! against the server's own limit (in the daemon, `validate` and `preview` alike).

use std::collections::BTreeMap;

use crieur_config::{Config, NetworkSettings};
use crieur_core::store::ServerLimits;
use crieur_core::store::Store;

use crate::supervisor::Adapters;

/// Lays the saved limits over `config`: a Mastodon channel without its own `max_length` takes
/// its server's `max_characters`, when the limits were read from the server the channel names
/// now. Returns how many channels changed.
pub fn apply(config: &mut Config, limits: &BTreeMap<String, ServerLimits>) -> usize {
    let mut changed = 0;
    for (name, c) in &mut config.channels {
        let NetworkSettings::Mastodon(m) = &c.settings else { continue };
        let Some(l) = limits.get(name) else { continue };
        if l.instance.trim_end_matches('/') != m.instance || c.channel.max_length.is_some() {
            continue;
        }
        if let Some(max) = l.max_characters {
            c.channel.max_length = Some(max);
            changed += 1;
        }
    }
    changed
}

/// Asks every channel's server for its limits (through the adapters) and saves what came back;
/// a server that does not answer keeps what was saved before, with a warning.
pub async fn refresh(adapters: &dyn Adapters, config: &Config, store: &dyn Store) {
    for (channel, read) in adapters.server_limits(config).await {
        match read {
            Ok(limits) => {
                tracing::info!(
                    %channel,
                    max_characters = ?limits.max_characters,
                    characters_per_url = ?limits.characters_per_url,
                    max_media = ?limits.max_media,
                    "server limits read"
                );
                if let Err(e) = store.save_server_limits(&channel, &limits).await {
                    tracing::warn!(%channel, error = %e, "cannot save the server's limits");
                }
            }
            Err(e) => tracing::warn!(
                %channel,
                error = %chain(&*e),
                "cannot read the server's limits; the saved ones (or the network's defaults) apply"
            ),
        }
    }
}

/// An error and its causes, `: `-separated.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> Config {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crieur.toml");
        std::fs::write(
            &path,
            "timezone = \"UTC\"\n[channels.fedi]\nnetwork = \"mastodon\"\ninstance = \"https://social.example\"\naccess_token = \"env:T\"\n[channels.own]\nnetwork = \"mastodon\"\ninstance = \"https://social.example\"\naccess_token = \"env:T\"\nmax_length = 600\n",
        )
        .unwrap();
        crieur_config::load_config(&path).unwrap()
    }

    fn limits(instance: &str) -> ServerLimits {
        ServerLimits {
            instance: instance.into(),
            max_characters: Some(1000),
            characters_per_url: Some(23),
            max_media: Some(4),
            fetched_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_channel_takes_its_servers_limit_unless_it_sets_its_own() {
        let mut c = config();
        let all = BTreeMap::from([
            ("fedi".to_owned(), limits("https://social.example/")),
            ("own".to_owned(), limits("https://social.example")),
        ]);
        assert_eq!(apply(&mut c, &all), 1);
        assert_eq!(c.channels["fedi"].channel.max_length, Some(1000));
        assert_eq!(c.channels["own"].channel.max_length, Some(600));
    }

    #[test]
    fn limits_read_from_another_server_are_ignored() {
        let mut c = config();
        let all = BTreeMap::from([("fedi".to_owned(), limits("https://elsewhere.example"))]);
        assert_eq!(apply(&mut c, &all), 0);
        assert_eq!(c.channels["fedi"].channel.max_length, None);
    }
}
