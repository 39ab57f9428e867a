//! The network guard: no URL a feed, an article page or a redirect names may make feedsmith
//! connect to an internal address (SSRF).
//!
//! Why it sits in the fetcher: every request feedsmith makes goes through [`super::Fetcher`],
//! so checking there (and at every redirect hop) leaves no path around it. Why it sits in the
//! DNS resolver too: a check of the name followed by a second resolution at connect time can be
//! answered differently the second time (DNS rebinding). The guarded client resolves through
//! [`GuardedResolver`], which refuses internal addresses and hands the *vetted* addresses to the
//! connector, so what was checked is what is connected to. Address literals (`127.0.0.1`,
//! `[::1]`, and the decimal/hex forms the URL parser turns into them) never reach a resolver:
//! [`check_ip`] refuses them before any request.
//!
//! The operator's own choices are trusted: the configured feed's origin (scheme, host, port),
//! `[http] allow_hosts` and `[http] allow_private_networks = true`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an address is not fetched on a feed's say-so: a short, stable name (also the metric's
/// `reason` label).
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d) and -compatible (::a.b.c.d) addresses reach the IPv4
            // host: judge the IPv4 address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_loopback() {
                Some("loopback")
            } else if s[0..6] == [0, 0, 0, 0, 0, 0] {
                // ::a.b.c.d (deprecated IPv4-compatible form)
                forbidden_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ))
                .or(Some("reserved"))
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private") // fc00::/7 unique local
            } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
                Some("link_local") // fe80::/10, and the deprecated site-local fec0::/10
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48): the embedded IPv4 host.
                forbidden_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ))
            } else if s[0] == 0x2002 {
                // 6to4: the IPv4 address in bits 16..48.
                forbidden_v4(Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                ))
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified") // 0.0.0.0/8 "this network": 0.0.0.0 reaches the local host
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link_local") // 169.254/16, cloud metadata (169.254.169.254) included
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("cgnat") // 100.64/10
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        Some("reserved") // 240/4, 192.0.0/24 (IETF protocol assignments), 198.18/15 (benchmarking)
    } else {
        None
    }
}

/// A refused destination: the host named, the address it is (or resolved to) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub host: String,
    pub addr: Option<IpAddr>,
    pub kind: &'static str,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind.replace('_', "-");
        let a = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        match self.addr {
            Some(addr) if addr.to_string() != self.host.trim_matches(['[', ']']) => {
                write!(f, "{} resolves to {addr}, {a} {kind} address", self.host)
            }
            Some(addr) => write!(f, "{addr} is {a} {kind} address"),
            None => write!(f, "{} is {a} {kind} name", self.host),
        }
    }
}

impl std::error::Error for Refusal {}

/// The operator's exceptions (`[http] allow_hosts`, `allow_private_networks`).
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Lower-case host names and address literals (IPv6 without brackets).
    allow_hosts: Vec<String>,
    allow_private: bool,
}

/// What a hop may use: the plain client (trusted destination) or the guarded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The operator trusts this destination: resolve and connect normally.
    Trusted,
    /// Resolve through [`GuardedResolver`].
    Guarded,
}

impl Guard {
    pub fn new(allow_hosts: &[String], allow_private: bool) -> Guard {
        Guard {
            allow_hosts: allow_hosts.iter().map(|h| normalize_host(h)).collect(),
            allow_private,
        }
    }

    /// How to fetch `url`, whose trusted origin (the configured feed's) is `trusted`; `Err`
    /// when it must not be fetched at all (an internal address literal, `localhost`).
    pub fn route(&self, url: &Url, trusted: Option<&url::Origin>) -> Result<Route, Refusal> {
        if self.allow_private || trusted.is_some_and(|o| *o == url.origin()) {
            return Ok(Route::Trusted);
        }
        let host = match url.host() {
            Some(h) => h,
            None => {
                return Err(Refusal {
                    host: String::new(),
                    addr: None,
                    kind: "missing host",
                })
            }
        };
        let name = match &host {
            Host::Domain(d) => normalize_host(d),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        if self.allow_hosts.contains(&name) {
            return Ok(Route::Trusted);
        }
        match host {
            Host::Ipv4(ip) => check_ip(&name, IpAddr::V4(ip)).map(|_| Route::Trusted),
            Host::Ipv6(ip) => check_ip(&name, IpAddr::V6(ip)).map(|_| Route::Trusted),
            Host::Domain(_) if name == "localhost" || name.ends_with(".localhost") => {
                // RFC 6761: always the loopback host, whatever a resolver says.
                Err(Refusal {
                    host: name,
                    addr: None,
                    kind: "loopback",
                })
            }
            Host::Domain(_) => Ok(Route::Guarded),
        }
    }
}

fn normalize_host(h: &str) -> String {
    h.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `Ok` when `ip` is a public address.
pub fn check_ip(host: &str, ip: IpAddr) -> Result<(), Refusal> {
    match forbidden_kind(ip) {
        None => Ok(()),
        Some(kind) => Err(Refusal {
            host: host.to_string(),
            addr: Some(ip),
            kind,
        }),
    }
}

/// The guarded client's resolver: the system resolver (getaddrinfo, on the blocking pool), then
/// a refusal when any address is internal. A name that resolves to public and internal
/// addresses at once is refused as a whole: such an answer is a rebinding attempt or a
/// misconfiguration, and neither is worth the risk.
#[derive(Debug, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let lookup = host.clone();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            for a in &addrs {
                if let Err(refusal) = check_ip(&host, a.ip()) {
                    count(refusal.kind);
                    return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The resolver, ready for `ClientBuilder::dns_resolver`.
pub fn resolver() -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver)
}

/// The [`Refusal`] somewhere in an error's source chain (reqwest wraps the resolver's error).
pub fn find_refusal(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(r) = err.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        current = err.source();
    }
    None
}

pub use crate::refused::{count, render_metrics};

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        Guard::default()
            .route(&Url::parse(url).unwrap(), None)
            .is_err()
    }

    #[test]
    fn internal_literals_are_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://127.0.0.3:8080/admin",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0.0.0.0:5432/",
            "http://0/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[ff02::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://localhost:5432/",
            "http://LOCALHOST./",
            "http://db.localhost/",
        ] {
            assert!(refused(url), "{url} must be refused");
        }
        for url in [
            "http://93.184.216.34/",
            "https://[2606:4700::1111]/",
            "https://example.org/",
        ] {
            assert!(!refused(url), "{url} is public");
        }
    }

    #[test]
    fn exceptions_are_explicit() {
        let origin = Url::parse("http://127.0.0.2:8080/feed.xml")
            .unwrap()
            .origin();
        let g = Guard::default();
        let same = Url::parse("http://127.0.0.2:8080/post/1").unwrap();
        let other_port = Url::parse("http://127.0.0.2:8081/post/1").unwrap();
        let other_scheme = Url::parse("https://127.0.0.2:8080/post/1").unwrap();
        assert_eq!(g.route(&same, Some(&origin)), Ok(Route::Trusted));
        assert!(g.route(&other_port, Some(&origin)).is_err());
        assert!(g.route(&other_scheme, Some(&origin)).is_err());

        let allow = Guard::new(
            &["127.0.0.3".into(), "[::1]".into(), "Intranet.Local".into()],
            false,
        );
        for url in [
            "http://127.0.0.3:9/",
            "http://[::1]/",
            "http://intranet.local/",
        ] {
            assert_eq!(
                allow.route(&Url::parse(url).unwrap(), None),
                Ok(Route::Trusted),
                "{url}"
            );
        }
        assert!(allow
            .route(&Url::parse("http://127.0.0.4/").unwrap(), None)
            .is_err());
        let open = Guard::new(&[], true);
        assert_eq!(
            open.route(&Url::parse("http://127.0.0.1/").unwrap(), None),
            Ok(Route::Trusted)
        );
        assert_eq!(
            g.route(&Url::parse("https://example.org/").unwrap(), None),
            Ok(Route::Guarded)
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let err = match GuardedResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved: {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refusal = find_refusal(err.as_ref()).expect("a Refusal");
        assert_eq!(refusal.kind, "loopback");
        assert!(
            refusal.to_string().contains("localhost resolves to"),
            "{refusal}"
        );
    }
}
