//! The public-address guard: which URLs and addresses crieur may reach when the URL comes from
//! the user's files (a webhook's `url`, the page of a post's `link` read for a Bluesky card), and
//! the resolver that enforces it at connection time.
//!
//! Kept here, in the one HTTP crate every adapter shares, so that every adapter that fetches a
//! user-written URL applies the same rules with the same code: the webhook adapter for its
//! receiver, the Bluesky adapter for link cards.
//!
//! The rules (config.md, "Webhook safety"): `https` only, and no address that points inside the
//! host's network (loopback, private, link-local, unique-local, CGNAT, metadata, unspecified,
//! broadcast, multicast, documentation and other special-purpose ranges, and IPv4 addresses
//! embedded in IPv6 ones), unless the caller allows private addresses (a webhook channel's
//! `allow_private = true`), which lifts both rules.
//!
//! Names are resolved by [`GuardedResolver`], plugged into the HTTP client
//! ([`HttpClientBuilder::dns_resolver`](crate::HttpClientBuilder::dns_resolver)): it refuses the
//! whole name if any of its addresses is forbidden, and otherwise hands exactly the checked
//! addresses to the connector, so a second DNS answer cannot slip another address in (no DNS
//! rebinding). IP-literal URLs never reach a resolver, so [`check_url`] checks them directly.
//! Every refusal names what the URL is for (`what`: "webhook URL", "link page"), the URL and the
//! range, and says what to do.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use crate::display_url;

/// A URL or address the guard refuses. Its message names what the URL is for, the URL, the
/// address and the range, and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The scheme is not `https` (or, with `allow_private`, not `http`/`https`).
    #[error(
        "{what} {url} uses {scheme}:, but it must use https: (plain http: and private addresses \
         are allowed only with allow_private = true on the channel)"
    )]
    Scheme {
        /// What the URL is for (`webhook URL`, `link page`).
        what: &'static str,
        /// The URL, without credentials or query.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The scheme is neither `http` nor `https`.
    #[error("{what} {url} uses {scheme}:, which crieur cannot connect to: use an https: URL")]
    UnsupportedScheme {
        /// What the URL is for.
        what: &'static str,
        /// The URL, without credentials or query.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The URL's host is, or resolves to, a forbidden address.
    #[error(
        "{what} {url} points to {addr}, a {range} address; crieur refuses to connect to it \
         (use a public https address, or set allow_private = true on the channel for an intranet \
         or test receiver)"
    )]
    Address {
        /// What the URL is for.
        what: &'static str,
        /// The URL, without credentials or query.
        url: String,
        /// The forbidden address.
        addr: IpAddr,
        /// The range it falls in (`loopback`, `private (10.0.0.0/8)`...).
        range: &'static str,
    },
}

/// Checks the scheme and, for an IP-literal host, the address of `url`, a `what` (named in the
/// refusal: "webhook URL", "link page"). Host names are checked by [`GuardedResolver`] when the
/// request connects.
///
/// # Errors
/// [`Refused`] when the URL breaks a rule that `allow_private` does not lift.
pub fn check_url(url: &Url, allow_private: bool, what: &'static str) -> Result<(), Refused> {
    let shown = display_url(url);
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(Refused::Scheme { what, url: shown, scheme: "http".into() });
        }
        other => {
            return Err(Refused::UnsupportedScheme { what, url: shown, scheme: other.into() });
        }
    }
    if allow_private {
        return Ok(());
    }
    let addr = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(_)) | None => return Ok(()),
    };
    match forbidden_range(addr) {
        Some(range) => Err(Refused::Address { what, url: shown, addr, range }),
        None => Ok(()),
    }
}

/// The forbidden range `addr` falls in, or `None` for an ordinary public address.
///
/// Written here rather than taken from a crate: std's `is_global` is unstable, and the list is
/// short and worth reading in one place. IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`)
/// and 6to4 (`2002::/16`) addresses are judged by the IPv4 address they carry.
pub fn forbidden_range(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// IPv4 ranges, most specific first.
const V4_RANGES: &[(u32, u8, &str)] = &[
    (0xA9FE_A9FE, 32, "cloud metadata (169.254.169.254)"),
    (0xFFFF_FFFF, 32, "broadcast (255.255.255.255)"),
    (0x0000_0000, 8, "unspecified or \"this network\" (0.0.0.0/8)"),
    (0x0A00_0000, 8, "private (10.0.0.0/8)"),
    (0x6440_0000, 10, "shared CGNAT (100.64.0.0/10)"),
    (0x7F00_0000, 8, "loopback (127.0.0.0/8)"),
    (0xA9FE_0000, 16, "link-local (169.254.0.0/16)"),
    (0xAC10_0000, 12, "private (172.16.0.0/12)"),
    (0xC000_0000, 24, "IETF protocol assignment (192.0.0.0/24)"),
    (0xC000_0200, 24, "documentation (192.0.2.0/24)"),
    (0xC0A8_0000, 16, "private (192.168.0.0/16)"),
    (0xC612_0000, 15, "benchmarking (198.18.0.0/15)"),
    (0xC633_6400, 24, "documentation (198.51.100.0/24)"),
    (0xCB00_7100, 24, "documentation (203.0.113.0/24)"),
    (0xE000_0000, 4, "multicast (224.0.0.0/4)"),
    (0xF000_0000, 4, "reserved (240.0.0.0/4)"),
];

/// IPv6 ranges, most specific first (the embedded-IPv4 prefixes are handled before this table).
const V6_RANGES: &[(u128, u8, &str)] = &[
    (0xfd00_0ec2_0000_0000_0000_0000_0000_0254, 128, "cloud metadata (fd00:ec2::254)"),
    (0, 128, "unspecified (::)"),
    (1, 128, "loopback (::1)"),
    (0, 96, "IPv4-compatible, deprecated (::/96)"),
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48, "local-use NAT64 (64:ff9b:1::/48)"),
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "discard-only (100::/64)"),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, "documentation (2001:db8::/32)"),
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, "documentation (3fff::/20)"),
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique-local (fc00::/7)"),
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local (fe80::/10)"),
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, "site-local, deprecated (fec0::/10)"),
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast (ff00::/8)"),
];

fn forbidden_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(v4);
    V4_RANGES
        .iter()
        .find(|(net, len, _)| prefix_matches_v4(bits, *net, *len))
        .map(|(_, _, name)| *name)
}

fn prefix_matches_v4(bits: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn prefix_matches_v6(bits: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn forbidden_v6(v6: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(v6);
    // Prefixes that carry an IPv4 address: judge the IPv4 address.
    // The range named is then the IPv4 one; the message also shows the full IPv6 address.
    let embedded = if prefix_matches_v6(bits, 0xffff_0000_0000, 96)
        || prefix_matches_v6(bits, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96)
    {
        Some(bits as u32)
    } else if prefix_matches_v6(bits, 0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        Some((bits >> 80) as u32)
    } else {
        None
    };
    if let Some(v4) = embedded {
        return forbidden_v4(Ipv4Addr::from(v4));
    }
    V6_RANGES
        .iter()
        .find(|(net, len, _)| prefix_matches_v6(bits, *net, *len))
        .map(|(_, _, name)| *name)
}

/// The future a [`Lookup`] returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Turns a host name into addresses. [`SystemLookup`] asks the system resolver; [`StaticLookup`]
/// answers from a fixed table (tests, or pinning a receiver's name).
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host` (a domain name, never an IP literal).
    fn lookup(&self, host: String) -> LookupFuture;
}

/// The system resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> LookupFuture {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names and their addresses; an unknown name fails like an unknown host.
#[derive(Debug, Clone, Default)]
pub struct StaticLookup(pub HashMap<String, Vec<IpAddr>>);

impl StaticLookup {
    /// A table with one name.
    pub fn one(host: &str, addrs: Vec<IpAddr>) -> Self {
        Self(HashMap::from([(host.to_ascii_lowercase(), addrs)]))
    }
}

impl Lookup for StaticLookup {
    fn lookup(&self, host: String) -> LookupFuture {
        let found = self.0.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("unknown host {host}"))
            })
        })
    }
}

/// The resolver of an HTTP client that reaches user-written URLs: looks the name up, refuses it
/// if any address is forbidden (unless `allow_private`), and returns exactly the addresses it
/// checked.
///
/// # Errors
/// The resolution fails with [`Refused::Address`] (found again by the caller in the error chain
/// with [`find_refused`], to answer `Rejected` instead of `Retry`), with the lookup's error, or
/// with a "no address" error.
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    allow_private: bool,
    url: String,
    what: &'static str,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("allow_private", &self.allow_private)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl GuardedResolver {
    /// A resolver for the `what` at `url` (both named in its errors).
    pub fn new(
        lookup: Arc<dyn Lookup>,
        allow_private: bool,
        url: &Url,
        what: &'static str,
    ) -> Self {
        Self { lookup, allow_private, url: display_url(url), what }
    }

    /// Resolves `host` and applies the rules; the addresses returned are the ones to connect to.
    ///
    /// # Errors
    /// As described on the type.
    pub async fn resolve_checked(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let addrs = self.lookup.lookup(host.to_owned()).await?;
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")));
        }
        if !self.allow_private {
            for addr in &addrs {
                if let Some(range) = forbidden_range(*addr) {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        Refused::Address {
                            what: self.what,
                            url: self.url.clone(),
                            addr: *addr,
                            range,
                        },
                    ));
                }
            }
        }
        Ok(addrs)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.resolve_checked(&host).await?;
            // Port 0: the connector puts the URL's port (or the scheme's) in its place.
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Finds a [`Refused`] in an error chain, including inside an [`io::Error`] built by
/// [`GuardedResolver`].
pub fn find_refused(err: &crate::SendError) -> Option<Refused> {
    if let Some(r) = err.find_cause::<Refused>() {
        return Some(r.clone());
    }
    let io = err.find_cause::<io::Error>()?;
    io.get_ref()?.downcast_ref::<Refused>().cloned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forbidden_addresses_are_named() {
        let cases = [
            ("127.0.0.1", "loopback (127.0.0.0/8)"),
            ("127.255.0.9", "loopback (127.0.0.0/8)"),
            ("10.0.0.1", "private (10.0.0.0/8)"),
            ("172.16.0.1", "private (172.16.0.0/12)"),
            ("172.31.255.255", "private (172.16.0.0/12)"),
            ("192.168.1.1", "private (192.168.0.0/16)"),
            ("169.254.169.254", "cloud metadata (169.254.169.254)"),
            ("169.254.1.1", "link-local (169.254.0.0/16)"),
            ("100.64.0.1", "shared CGNAT (100.64.0.0/10)"),
            ("100.127.255.254", "shared CGNAT (100.64.0.0/10)"),
            ("0.0.0.0", "unspecified or \"this network\" (0.0.0.0/8)"),
            ("255.255.255.255", "broadcast (255.255.255.255)"),
            ("224.0.0.251", "multicast (224.0.0.0/4)"),
            ("192.0.2.10", "documentation (192.0.2.0/24)"),
            ("198.51.100.7", "documentation (198.51.100.0/24)"),
            ("203.0.113.200", "documentation (203.0.113.0/24)"),
            ("198.18.5.5", "benchmarking (198.18.0.0/15)"),
            ("240.1.2.3", "reserved (240.0.0.0/4)"),
            ("::1", "loopback (::1)"),
            ("::", "unspecified (::)"),
            ("fe80::1", "link-local (fe80::/10)"),
            ("fc00::1", "unique-local (fc00::/7)"),
            ("fd12:3456::1", "unique-local (fc00::/7)"),
            ("fd00:ec2::254", "cloud metadata (fd00:ec2::254)"),
            ("ff02::1", "multicast (ff00::/8)"),
            ("2001:db8::1", "documentation (2001:db8::/32)"),
            ("::ffff:127.0.0.1", "loopback (127.0.0.0/8)"),
            ("::ffff:169.254.169.254", "cloud metadata (169.254.169.254)"),
            ("::ffff:10.1.2.3", "private (10.0.0.0/8)"),
            ("64:ff9b::a00:1", "private (10.0.0.0/8)"),
            ("2002:c0a8:0101::1", "private (192.168.0.0/16)"),
            ("::7f00:1", "IPv4-compatible, deprecated (::/96)"),
        ];
        for (addr, want) in cases {
            assert_eq!(forbidden_range(ip(addr)), Some(want), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "93.184.215.14",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.169.0.0",
            "2606:4700::6810:84e5",
            "2a00:1450:4007:80e::200e",
            "::ffff:93.184.215.14",
            "64:ff9b::5db8:d70e",
            "2002:5db8:d70e::1",
        ] {
            assert_eq!(forbidden_range(ip(addr)), None, "{addr}");
        }
    }

    const W: &str = "webhook URL";

    #[test]
    fn check_url_rules() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&u("https://blog.example.com/hook"), false, W).is_ok());
        assert!(check_url(&u("https://93.184.215.14/hook"), false, W).is_ok());
        let err = check_url(&u("http://example.com/hook?token=abc"), false, W).unwrap_err();
        assert_eq!(
            err,
            Refused::Scheme {
                what: W,
                url: "http://example.com/hook".into(),
                scheme: "http".into()
            }
        );
        assert!(err.to_string().contains("allow_private = true"));
        assert!(!err.to_string().contains("abc"));
        let err = check_url(&u("https://[::1]:8443/h"), false, W).unwrap_err();
        assert_eq!(
            err.to_string(),
            "webhook URL https://[::1]:8443/h points to ::1, a loopback (::1) address; crieur \
             refuses to connect to it (use a public https address, or set allow_private = true \
             on the channel for an intranet or test receiver)"
        );
        assert!(matches!(
            check_url(&u("https://169.254.169.254/latest"), false, "link page"),
            Err(Refused::Address {
                what: "link page",
                range: "cloud metadata (169.254.169.254)",
                ..
            })
        ));
        assert!(matches!(
            check_url(&u("ftp://example.com/x"), true, W),
            Err(Refused::UnsupportedScheme { .. })
        ));
        // allow_private lifts both rules.
        assert!(check_url(&u("http://127.0.0.1:8080/h"), true, W).is_ok());
        assert!(check_url(&u("https://10.0.0.1/h"), true, W).is_ok());
    }

    fn resolver(addrs: &[&str], allow_private: bool) -> GuardedResolver {
        let lookup = StaticLookup::one("blog.test", addrs.iter().map(|a| ip(a)).collect());
        GuardedResolver::new(
            Arc::new(lookup),
            allow_private,
            &Url::parse("https://blog.test/hooks/crieur").unwrap(),
            W,
        )
    }

    #[tokio::test]
    async fn resolver_refuses_a_name_with_any_forbidden_address() {
        let err = resolver(&["93.184.215.14", "10.0.0.1"], false)
            .resolve_checked("blog.test")
            .await
            .unwrap_err();
        let refused = err.get_ref().unwrap().downcast_ref::<Refused>().unwrap();
        assert_eq!(
            refused,
            &Refused::Address {
                what: W,
                url: "https://blog.test/hooks/crieur".into(),
                addr: ip("10.0.0.1"),
                range: "private (10.0.0.0/8)"
            }
        );
    }

    #[tokio::test]
    async fn resolver_passes_public_and_allowed_addresses_through() {
        let got = resolver(&["93.184.215.14"], false).resolve_checked("blog.test").await.unwrap();
        assert_eq!(got, vec![ip("93.184.215.14")]);
        let got = resolver(&["10.0.0.1"], true).resolve_checked("BLOG.test").await.unwrap();
        assert_eq!(got, vec![ip("10.0.0.1")]);
        // Through the reqwest trait: the same addresses, port left to the connector.
        let r = resolver(&["93.184.215.14"], false);
        let addrs: Vec<SocketAddr> =
            Resolve::resolve(&r, "blog.test".parse().unwrap()).await.unwrap().collect();
        assert_eq!(addrs, vec!["93.184.215.14:0".parse().unwrap()]);
    }

    #[tokio::test]
    async fn resolver_fails_on_unknown_or_empty_names() {
        let err = resolver(&[], false).resolve_checked("blog.test").await.unwrap_err();
        assert!(err.to_string().contains("no address"), "{err}");
        let err = resolver(&["1.1.1.1"], false).resolve_checked("other.test").await.unwrap_err();
        assert!(err.to_string().contains("unknown host other.test"), "{err}");
    }
}
