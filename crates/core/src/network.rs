use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A social network (or the blog webhook) that a channel publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// X (formerly Twitter), API v2.
    X,
    /// A Facebook Page, through the Graph API.
    Facebook,
    /// LinkedIn, through the Posts API.
    Linkedin,
    /// A blog or intranet, through a Standard Webhooks signed POST.
    Webhook,
    /// An account on any Mastodon-compatible server, through its REST API.
    Mastodon,
    /// Bluesky (AT Protocol), with an app password.
    Bluesky,
}

impl Network {
    /// Every network, in a stable order.
    pub const ALL: [Network; 6] = [
        Network::X,
        Network::Facebook,
        Network::Linkedin,
        Network::Webhook,
        Network::Mastodon,
        Network::Bluesky,
    ];

    /// The name used in config files, JSON output and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::X => "x",
            Network::Facebook => "facebook",
            Network::Linkedin => "linkedin",
            Network::Webhook => "webhook",
            Network::Mastodon => "mastodon",
            Network::Bluesky => "bluesky",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A network name that crieur does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network {0:?}: use one of x, facebook, linkedin, webhook, mastodon, bluesky")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Network::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| UnknownNetwork(s.to_owned()))
    }
}
