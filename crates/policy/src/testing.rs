//! Values built by hand for the tests.

use std::collections::BTreeMap;

use crieur_core::{Channel, Location, Network, Post, ThreadItem};
use jiff::tz::TimeZone;

use crate::settings::Mention;

pub(crate) fn channel(name: &str, network: Network) -> Channel {
    Channel {
        name: name.to_owned(),
        network,
        timezone: TimeZone::UTC,
        cadence: Vec::new(),
        max_length: None,
        location: Location::new("crieur.toml", 10, 1),
    }
}

pub(crate) fn post(id: &str, text: &str) -> Post {
    Post {
        id: id.to_owned(),
        location: Location::new("posts/q.toml", 1, 1),
        text_location: Location::new("posts/q.toml", 4, 8),
        file_index: 0,
        index_in_file: 0,
        channels: Vec::new(),
        category: None,
        campaign: None,
        text: text.to_owned(),
        link: None,
        at: None,
        priority: 0,
        variants: BTreeMap::new(),
        thread: Vec::new(),
        article: None,
        media: Vec::new(),
        keep_metadata: false,
        options: Default::default(),
    }
}

pub(crate) fn thread_item(text: &str, line: u32) -> ThreadItem {
    ThreadItem {
        text: text.to_owned(),
        location: Location::new("posts/q.toml", line, 8),
        media: Vec::new(),
    }
}

pub(crate) fn mentions() -> BTreeMap<String, Mention> {
    let mut m = BTreeMap::new();
    m.insert(
        "acme".to_owned(),
        Mention {
            name: "Acme (Lyon)".to_owned(),
            x: Some("@acme".to_owned()),
            linkedin: Some("urn:li:organization:2414183".to_owned()),
            facebook: None,
            mastodon: Some("@acme@mastodon.social".to_owned()),
            bluesky: Some("acme.bsky.social".to_owned()),
            location: Location::new("crieur.toml", 40, 1),
        },
    );
    m.insert(
        "bob".to_owned(),
        Mention {
            name: "Bob Martin".to_owned(),
            x: None,
            linkedin: None,
            facebook: Some("Bob M.".to_owned()),
            mastodon: None,
            bluesky: None,
            location: Location::new("crieur.toml", 45, 1),
        },
    );
    m
}
