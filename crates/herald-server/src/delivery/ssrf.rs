//! Address safety: which IP addresses Herald may connect to. The check runs on resolved
//! addresses (a DNS resolver that drops forbidden ones) and on IP-literal hosts, so DNS
//! rebinding cannot bypass it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The address policy of one server.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    pub allow_private: bool,
    pub allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// Whether Herald may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_private || self.allowed.iter().any(|n| n.contains(&ip)) || !is_forbidden(ip)
    }
}

/// Loopback, private (RFC 1918, RFC 4193), link-local, CGNAT, multicast, unspecified,
/// documentation, benchmark and reserved ranges, and cloud metadata addresses.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254 (metadata)
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xC0) == 64) // 100.64.0.0/10 CGNAT (incl. 100.100.100.200)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xFE) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // 240.0.0.0/4 reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local (incl. fd00:ec2::254 metadata)
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // 2001:db8::/32 documentation
        || s[0..6] == [0, 0, 0, 0, 0, 0] // ::/96 IPv4-compatible (deprecated)
}

/// Why a host could not be used; found again in the error chain to classify the attempt.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("DNS lookup of {0} failed: {1}")]
    Dns(String, String),
    #[error("every address of {0} is blocked by the address policy ({1})")]
    Blocked(String, String),
}

/// A resolver that only returns permitted addresses.
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| ResolveError::Dns(host.clone(), e.to_string()))?
                .collect();
            if addrs.is_empty() {
                return Err(ResolveError::Dns(host, "no addresses".into()).into());
            }
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                let list = addrs
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ResolveError::Blocked(host, list).into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forbidden_ranges() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(is_forbidden(ip(s)), "{s} should be forbidden");
        }
        for s in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip(s)), "{s} should be allowed");
        }
    }

    #[test]
    fn policy_switches() {
        let strict = AddressPolicy::default();
        assert!(!strict.permits(ip("127.0.0.1")));
        let open = AddressPolicy {
            allow_private: true,
            allowed: vec![],
        };
        assert!(open.permits(ip("127.0.0.1")));
        let cidr = AddressPolicy {
            allow_private: false,
            allowed: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(cidr.permits(ip("127.0.0.2")) && !cidr.permits(ip("10.0.0.1")));
    }
}
