//! Where the validation runner may send a suite's requests, and what it may sign (pure).
//!
//! A suite is data someone stored; the runner acts with its own role. So it signs only for the
//! services and hosts the stack allows, and never reaches loopback (the Lambda runtime API),
//! link-local (the instance metadata service) or private addresses unless the stack allows
//! their network: otherwise a suite could make the runner fetch its own credentials, or sign a
//! request to DynamoDB and write whatever it likes into the state table.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// SigV4 signing names the runner may sign for (comma-separated). Default `execute-api`.
pub const SIGN_SERVICES_ENV: &str = "HANDSOFF_SIGN_SERVICES";
/// Hosts it may sign requests to: `api.example.com` or `*.execute-api.eu-west-1.amazonaws.com`
/// (comma-separated). Default: API Gateway's own hosts in the function's region.
pub const SIGN_HOSTS_ENV: &str = "HANDSOFF_SIGN_HOSTS";
/// Networks beyond the public internet it may reach (comma-separated CIDRs, e.g. a VPC's
/// `10.0.0.0/8`). Default none.
pub const ALLOWED_NETWORKS_ENV: &str = "HANDSOFF_ALLOWED_NETWORKS";

/// The runner's outbound rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    sign_services: Vec<String>,
    sign_hosts: Vec<String>,
    networks: Vec<Network>,
    /// A person running a suite from the CLI, as themselves: no rules but their own.
    open: bool,
}

impl Egress {
    /// The rules from the function's environment, `region` for the default signed hosts.
    pub fn from_env(region: Option<&str>) -> Result<Egress, crate::error::Invalid> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
        Egress::from_settings(
            var(SIGN_SERVICES_ENV).as_deref(),
            var(SIGN_HOSTS_ENV).as_deref(),
            var(ALLOWED_NETWORKS_ENV).as_deref(),
            region,
        )
    }

    /// The rules from their settings (each a comma-separated list, or None for the default).
    pub fn from_settings(
        sign_services: Option<&str>,
        sign_hosts: Option<&str>,
        networks: Option<&str>,
        region: Option<&str>,
    ) -> Result<Egress, crate::error::Invalid> {
        let list = |text: &str| -> Vec<String> {
            text.split(',')
                .map(|item| item.trim().to_ascii_lowercase())
                .filter(|item| !item.is_empty())
                .collect()
        };
        let sign_services = sign_services.map_or_else(|| vec!["execute-api".to_string()], list);
        let sign_hosts = match sign_hosts {
            Some(text) => list(text),
            None => region
                .map(|region| vec![format!("*.execute-api.{}.amazonaws.com", region.to_ascii_lowercase())])
                .unwrap_or_default(),
        };
        for host in &sign_hosts {
            let bare = host.strip_prefix("*.").unwrap_or(host);
            if bare.is_empty() || bare.contains('*') || bare.contains('/') || bare.contains(':') {
                return Err(format!(
                    "{SIGN_HOSTS_ENV}: `{host}` is not a host or `*.suffix` pattern, e.g. *.execute-api.us-east-1.amazonaws.com"
                ).into());
            }
        }
        let networks = networks
            .map(list)
            .unwrap_or_default()
            .iter()
            .map(|text| {
                text.parse::<Network>()
                    .map_err(|error| format!("{ALLOWED_NETWORKS_ENV}: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Egress {
            sign_services,
            sign_hosts,
            networks,
            open: false,
        })
    }

    /// No rules: the CLI runs a suite as the person at the keyboard, with their credentials.
    pub fn open() -> Egress {
        Egress {
            sign_services: Vec::new(),
            sign_hosts: Vec::new(),
            networks: Vec::new(),
            open: true,
        }
    }

    /// Whether a request to `host` may be signed as `service`.
    pub fn check_sign(&self, service: &str, host: &str) -> Result<(), crate::error::Invalid> {
        if self.open {
            return Ok(());
        }
        let service = service.to_ascii_lowercase();
        if !self.sign_services.contains(&service) {
            return Err(format!(
                "refused to sign for `{service}`: the runner signs only for {} ({SIGN_SERVICES_ENV})",
                self.sign_services.join(", ")
            )
            .into());
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let allowed = self.sign_hosts.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => &host == pattern,
        });
        if !allowed {
            let hosts = if self.sign_hosts.is_empty() {
                "no host".to_string()
            } else {
                self.sign_hosts.join(", ")
            };
            return Err(format!(
                "refused to sign a request to {host}: the runner signs only for {hosts} ({SIGN_HOSTS_ENV})"
            )
            .into());
        }
        Ok(())
    }

    /// Whether the runner may connect to `ip` (a host's resolved address, or a literal one).
    pub fn check_address(&self, ip: IpAddr) -> Result<(), crate::error::Invalid> {
        if self.open {
            return Ok(());
        }
        let Some(kind) = special(ip) else {
            return Ok(());
        };
        if self.networks.iter().any(|network| network.contains(ip)) {
            return Ok(());
        }
        Err(format!(
            "refused to connect to {ip}, a {kind} address: the runner reaches only public addresses and the networks the stack allows ({ALLOWED_NETWORKS_ENV}, e.g. 10.0.0.0/8)"
        ).into())
    }
}

/// What kind of non-public address `ip` is, if it is one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`,
/// deprecated but still routed by some stacks) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let tail = || Ipv4Addr::from(u128::from(ip) as u32);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        [0, 0, 0, 0, 0, 0, high, _] if high != 0 => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        _ => None,
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback (the Lambda runtime API)")
    } else if ip.is_link_local() {
        Some("link-local (the instance metadata service)")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("reserved")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xffc0 == 0xfec0 || (first == 0x64 && ip.segments()[1] == 0xff9b) {
        Some("reserved (site-local or translated)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (unique local, e.g. the instance metadata service's fd00:ec2::254)")
    } else {
        None
    }
}

/// An address block, e.g. `10.0.0.0/8`, `127.0.0.1` (one address), `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                masked(u32::from(base).into(), 32, self.prefix) == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                masked(u128::from(base), 128, self.prefix) == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    bits >> (width - prefix)
}

impl std::str::FromStr for Network {
    type Err = crate::error::Invalid;

    fn from_str(text: &str) -> Result<Network, crate::error::Invalid> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not a network; use a CIDR such as 10.0.0.0/8 or fd00::/8"))?;
        let width = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= width)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {width}"))?,
        };
        Ok(Network { base, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Egress {
        Egress::from_settings(None, None, None, Some("eu-west-1")).unwrap()
    }

    #[test]
    fn signs_only_for_the_allowed_services_and_hosts() {
        let egress = strict();
        assert_eq!(
            egress.check_sign("execute-api", "abc123.execute-api.eu-west-1.amazonaws.com"),
            Ok(())
        );
        let error = egress
            .check_sign("dynamodb", "dynamodb.eu-west-1.amazonaws.com")
            .unwrap_err();
        assert!(error.contains("refused to sign for `dynamodb`"), "{error}");
        for host in [
            "evil.example.com",
            "execute-api.eu-west-1.amazonaws.com",
            "abc.execute-api.us-east-1.amazonaws.com",
            "abc.execute-api.eu-west-1.amazonaws.com.evil.com",
            "xexecute-api.eu-west-1.amazonaws.com",
        ] {
            let error = egress.check_sign("execute-api", host).unwrap_err();
            assert!(error.contains("refused to sign a request to"), "{host}: {error}");
        }
        let custom = Egress::from_settings(Some("execute-api,lambda"), Some("api.example.com"), None, None).unwrap();
        assert_eq!(custom.check_sign("lambda", "API.example.com"), Ok(()));
        assert!(custom.check_sign("execute-api", "other.example.com").is_err());
        let none = Egress::from_settings(None, None, None, None).unwrap();
        assert!(
            none.check_sign("execute-api", "a.execute-api.eu-west-1.amazonaws.com")
                .unwrap_err()
                .contains("no host")
        );
    }

    #[test]
    fn refuses_loopback_link_local_and_private_addresses_unless_their_network_is_allowed() {
        let egress = strict();
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("0.0.0.0", "reserved"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "unique local"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::7f00:1", "translated"),
            ("fec0::1", "site-local"),
        ] {
            let error = egress.check_address(ip.parse().unwrap()).unwrap_err();
            assert!(error.contains(kind) && error.contains(ip), "{ip}: {error}");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert_eq!(egress.check_address(public.parse().unwrap()), Ok(()), "{public}");
        }
        let vpc = Egress::from_settings(None, None, Some("10.0.0.0/8, 127.0.0.1"), None).unwrap();
        assert_eq!(vpc.check_address("10.9.9.9".parse().unwrap()), Ok(()));
        assert_eq!(vpc.check_address("127.0.0.1".parse().unwrap()), Ok(()));
        assert_eq!(vpc.check_address("::ffff:10.0.0.1".parse().unwrap()), Ok(()));
        assert!(vpc.check_address("127.0.0.2".parse().unwrap()).is_err());
        assert!(vpc.check_address("169.254.169.254".parse().unwrap()).is_err());
        assert_eq!(Egress::open().check_address("169.254.169.254".parse().unwrap()), Ok(()));
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let error = Egress::from_settings(None, None, Some("10.0.0.0/33"), None).unwrap_err();
        assert!(error.starts_with("HANDSOFF_ALLOWED_NETWORKS: `10.0.0.0/33`"), "{error}");
        let error = Egress::from_settings(None, None, Some("intranet"), None).unwrap_err();
        assert!(error.contains("`intranet` is not a network"), "{error}");
        let error = Egress::from_settings(None, Some("*.*.example.com"), None, None).unwrap_err();
        assert!(error.starts_with("HANDSOFF_SIGN_HOSTS: `*.*.example.com`"), "{error}");
    }
}
