//! `[metrics]`: which engagement figures crieur pulls back from the networks, and when.

use jiff::SignedDuration;
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::config::duration;
use crate::error::Errors;
use crate::source::Src;

/// `[metrics]`: engagement snapshots for `crieur report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `collect` (default true): whether the daemon takes snapshots at all. A channel turns them
    /// off for itself with `metrics = false`.
    pub collect: bool,
    /// `after` (default 1 day, 7 days, 28 days): how long after each publication a snapshot is
    /// taken, increasing, without repeats.
    pub after: Vec<SignedDuration>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            collect: true,
            after: [1, 7, 28].map(|d| SignedDuration::from_hours(24 * d)).to_vec(),
        }
    }
}

impl MetricsSettings {
    /// Whether snapshots are taken for `channel`: `collect` and the channel's own `metrics`.
    pub fn on(&self, channel: &crate::ChannelConfig) -> bool {
        self.collect && channel.metrics
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    collect: Option<bool>,
    after: Option<Vec<Spanned<String>>>,
}

/// Parses `[metrics]`; an absent table gives the defaults.
pub(crate) fn parse_metrics(
    src: &Src<'_>,
    value: Option<Spanned<DeValue<'_>>>,
    errors: &mut Errors,
) -> MetricsSettings {
    let mut out = MetricsSettings::default();
    let Some(value) = value else {
        return out;
    };
    let Some(raw) = src.de::<RawMetrics>(value, "in [metrics]", errors) else {
        return out;
    };
    if let Some(collect) = raw.collect {
        out.collect = collect;
    }
    if let Some(after) = raw.after {
        let mut list: Vec<SignedDuration> =
            after.iter().filter_map(|a| duration(src, a, "[metrics] after", errors)).collect();
        list.sort();
        list.dedup();
        out.after = list;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use crate::config::{Env, parse_config};

    const BASE: &str = "timezone = \"Europe/Paris\"\n\n[channels.company-x]\nnetwork = \"x\"\n\
                        cadence = [\"Mon-Fri 09:15\"]\naccess_token = \"env:X\"\n";

    fn parse(extra: &str) -> Result<crate::Config, crate::Errors> {
        parse_config(Path::new("c.toml"), &format!("{BASE}{extra}"), &Env::default())
    }

    #[test]
    fn without_a_metrics_table_snapshots_are_taken_after_1_7_and_28_days_on_every_channel() {
        let c = parse("").unwrap();
        assert!(c.metrics.collect);
        let days: Vec<i64> = c.metrics.after.iter().map(|d| d.as_hours() / 24).collect();
        assert_eq!(days, vec![1, 7, 28]);
        assert!(c.metrics.on(&c.channels["company-x"]));
    }

    #[test]
    fn after_is_sorted_and_a_channel_may_turn_metrics_off() {
        let text = "metrics = false\n\n[metrics]\nafter = [\"7d\", \"0s\", \"2h\", \"7d\"]\n";
        let c = parse(text).unwrap();
        let secs: Vec<i64> = c.metrics.after.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, vec![0, 7200, 7 * 86_400]);
        assert!(!c.channels["company-x"].metrics);
        assert!(!c.metrics.on(&c.channels["company-x"]));
        let off = parse("\n[metrics]\ncollect = false\n").unwrap();
        assert!(!off.metrics.on(&off.channels["company-x"]));
    }

    #[test]
    fn a_bad_duration_or_key_is_placed() {
        let err = parse("\n[metrics]\nafter = [\"1 fortnight\"]\n").unwrap_err().to_string();
        assert!(err.contains("c.toml:9:10") && err.contains("[metrics] after"), "{err}");
        let err = parse("\n[metrics]\nevery = \"1d\"\n").unwrap_err().to_string();
        assert!(err.contains("c.toml:") && err.contains("unknown key `every`"), "{err}");
    }
}
