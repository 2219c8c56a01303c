//! Config -> one [`Publisher`] per channel. The only place that knows every adapter.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use crieur_config::{Config, NetworkSettings};
use crieur_core::{Clock, Publisher, TokenVault};

/// Builds the publisher of every channel of `config`. Secrets are resolved here (and only here).
///
/// # Errors
/// When a secret cannot be read or a channel's settings are refused by its adapter (for example a
/// webhook URL that fails the SSRF guard); the message names the channel.
pub fn publishers(
    config: &Config,
    vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<HashMap<String, Arc<dyn Publisher>>> {
    let mut out: HashMap<String, Arc<dyn Publisher>> = HashMap::new();
    for (name, channel) in &config.channels {
        let publisher = build(config, name, &channel.settings, vault.clone(), clock.clone())
            .with_context(|| format!("channel {name}"))?;
        out.insert(name.clone(), publisher);
    }
    Ok(out)
}

fn build(
    config: &Config,
    name: &str,
    settings: &NetworkSettings,
    _vault: Option<Arc<dyn TokenVault>>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn Publisher>> {
    match settings {
        NetworkSettings::Webhook(w) => {
            let secret = w.secret.resolve(&config.dir)?;
            let mut cfg = crieur_net_webhook::WebhookConfig::new(name, &w.url, secret);
            cfg.allow_private = w.allow_private;
            cfg.clock = clock;
            Ok(Arc::new(crieur_net_webhook::WebhookPublisher::new(cfg)?))
        }
        other => anyhow::bail!("the {} adapter is not built into this binary", other.network()),
    }
}
