//! Separate hosts for fault tests: Linux network namespaces, one per `strait` node, joined by
//! veth pairs to a bridge in the test's own (root) namespace, where the brokers and the test's
//! clients stay. Cuts are nftables rules inside a node's namespace, so a node can be cut off
//! from its peers while it still reaches the brokers, or from one broker address only.
//!
//! ```text
//!   root namespace (brokers, test clients)        namespace strait-sf<pid><k>-n1 ... -nN
//!   bridge sf<pid><k>b: 10.A.B.1 (the test)        veth sf<pid><k>n<id>: 10.A.B.<10+id>
//!                       10.A.B.2, .3 ... (services: │ nft table inet strait_fault
//!                       one per broker cluster)     │   chains input, output: the cuts
//!        └── veth sf<pid><k>h<id> ─────────────────┘
//! ```
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables); `scripts/install-toolchain.sh` installs the
//! tools, and `build.rs` sets `cfg(no_netns)` where they cannot be used, so that the tests that
//! need them are reported ignored (with the reason) rather than failing or passing silently.
//!
//! Everything carries the test process's id in its name (`sf<pid><k>`, `k` a letter per [`Net`]
//! of the process), so parallel runs never collide; a [`Net`] removes its namespaces (their
//! links and rules go with them) and its bridge when dropped, also when the test panics. A run
//! killed before its drops ran leaves them behind: the next [`Net::new`] removes those whose
//! process is gone. Processes in a namespace must be stopped before (they are the test's own:
//! declare the [`Net`] before the cluster, so that it is dropped after it).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The nftables table each namespace holds for its cuts.
const TABLE: &str = "strait_fault";
/// Prefix of every name this fixture gives (namespaces: `strait-` before it).
const PREFIX: &str = "sf";
/// Nets made by this process so far: the letter in the names.
static NETS: AtomicUsize = AtomicUsize::new(0);

/// The namespaces of one test and the bridge joining them. See the module doc.
pub struct Net {
    /// `sf<pid><k>`: the start of every name.
    tag: String,
    bridge: String,
    /// `10.A.B`: the subnet's first three octets.
    subnet: [u8; 3],
    services: usize,
    /// Node id → namespace name.
    hosts: BTreeMap<u64, String>,
    /// Node id → the cuts in force, for messages.
    cuts: BTreeMap<u64, Vec<String>>,
}

impl Net {
    /// A namespace per node id in `nodes` (each 1..=200), and `services` addresses besides the
    /// test's own on the bridge, for broker clusters ([`Net::service_ip`]). Panics with the
    /// command's error when a step fails (having removed what it made).
    pub fn new(nodes: &[u64], services: usize) -> Net {
        assert!(
            services <= 7,
            "at most 7 service addresses (10.A.B.2 to .8)"
        );
        sweep_stale();
        let k = NETS.fetch_add(1, Ordering::SeqCst);
        assert!(k < 26, "at most 26 nets per test process");
        let tag = format!("{PREFIX}{}{}", std::process::id(), (b'a' + k as u8) as char);
        let mut net = Net {
            bridge: format!("{tag}b"),
            subnet: free_subnet(k),
            tag,
            services,
            hosts: BTreeMap::new(),
            cuts: BTreeMap::new(),
        };
        if let Err(e) = net.build(nodes) {
            drop(net);
            panic!("setting up network namespaces: {e}");
        }
        net
    }

    fn build(&mut self, nodes: &[u64]) -> Result<(), String> {
        ip(&["link", "add", &self.bridge, "type", "bridge"])?;
        let prefixed = |ip: Ipv4Addr| format!("{ip}/24");
        ip(&[
            "addr",
            "add",
            &prefixed(self.host_ip()),
            "dev",
            &self.bridge,
        ])?;
        for i in 0..self.services {
            let address = prefixed(self.service_ip(i));
            ip(&["addr", "add", &address, "dev", &self.bridge])?;
        }
        ip(&["link", "set", &self.bridge, "up"])?;
        for &id in nodes {
            assert!((1..=200).contains(&id), "node ids 1..=200");
            let ns = format!("strait-{}-n{id}", self.tag);
            ip(&["netns", "add", &ns])?;
            self.hosts.insert(id, ns.clone());
            let (outside, inside) = (format!("{}h{id}", self.tag), format!("{}n{id}", self.tag));
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside, "netns", &ns,
            ])?;
            ip(&["link", "set", &outside, "master", &self.bridge])?;
            ip(&["link", "set", &outside, "up"])?;
            let address = prefixed(self.node_ip(id));
            ip(&["-n", &ns, "addr", "add", &address, "dev", &inside])?;
            ip(&["-n", &ns, "link", "set", &inside, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            nft(
                &ns,
                &format!(
                    "table inet {TABLE} {{\n\
                     chain input {{ type filter hook input priority 0; policy accept; }}\n\
                     chain output {{ type filter hook output priority 0; policy accept; }}\n\
                     }}\n"
                ),
            )?;
        }
        Ok(())
    }

    /// The test's own address on the bridge: what the nodes see the test's calls (status, the
    /// control API) come from. Never cut.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.ip(1)
    }

    /// Service address `i` (from 0) on the bridge, in the root namespace: a broker cluster
    /// listens there (`KafkaSpec::on_host`), so that a node can be cut from it alone.
    pub fn service_ip(&self, i: usize) -> Ipv4Addr {
        assert!(i < self.services, "service {i} of {}", self.services);
        self.ip(2 + i as u8)
    }

    /// Node `id`'s address, in its namespace.
    pub fn node_ip(&self, id: u64) -> Ipv4Addr {
        self.ns(id);
        self.ip(10 + id as u8)
    }

    /// The command prefix that runs a program in node `id`'s namespace (`ip netns exec NS`;
    /// it execs the program, which keeps its process id).
    pub fn wrap(&self, id: u64) -> Vec<String> {
        ["ip", "netns", "exec", self.ns(id)]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// Cuts node `id` off from `addresses` in both directions: its namespace drops every packet
    /// to or from them (silently, as a lost link does: connections time out, nothing is
    /// refused). Adds to the cuts already in force.
    pub fn cut(&mut self, id: u64, addresses: &[Ipv4Addr]) {
        let mut script = String::new();
        for address in addresses {
            script.push_str(&format!(
                "add rule inet {TABLE} input ip saddr {address} drop\n\
                 add rule inet {TABLE} output ip daddr {address} drop\n"
            ));
        }
        let ns = self.ns(id).to_owned();
        nft(&ns, &script).unwrap_or_else(|e| panic!("cutting node {id} off: {e}"));
        self.cuts
            .entry(id)
            .or_default()
            .extend(addresses.iter().map(Ipv4Addr::to_string));
    }

    /// Cuts node `id` off from the other nodes among `nodes` (both directions), not from the
    /// brokers or the test.
    pub fn cut_from_peers(&mut self, id: u64, nodes: &[u64]) {
        let peers: Vec<Ipv4Addr> = nodes
            .iter()
            .filter(|n| **n != id)
            .map(|n| self.node_ip(*n))
            .collect();
        self.cut(id, &peers);
    }

    /// Removes every cut of node `id`.
    pub fn heal(&mut self, id: u64) {
        let ns = self.ns(id).to_owned();
        nft(
            &ns,
            &format!("flush chain inet {TABLE} input\nflush chain inet {TABLE} output\n"),
        )
        .unwrap_or_else(|e| panic!("healing node {id}: {e}"));
        self.cuts.remove(&id);
    }

    /// The cuts in force, for messages: `node 2 cut from [10.A.B.11, ...]`.
    pub fn describe(&self) -> String {
        let cuts: Vec<String> = self
            .cuts
            .iter()
            .map(|(id, to)| format!("node {id} cut from [{}]", to.join(", ")))
            .collect();
        if cuts.is_empty() {
            "no cuts".to_owned()
        } else {
            cuts.join("; ")
        }
    }

    fn ns(&self, id: u64) -> &str {
        self.hosts
            .get(&id)
            .unwrap_or_else(|| panic!("node {id} has no namespace in this net"))
    }

    fn ip(&self, last: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, last)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Links inside a namespace (the veth ends, their root-side peers with them) and its
        // nftables table go with the namespace.
        for ns in self.hosts.values() {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("removing network namespace {ns}: {e}");
            }
        }
        if let Err(e) = ip(&["link", "del", &self.bridge]) {
            eprintln!("removing bridge {}: {e}", self.bridge);
        }
    }
}

/// Runs `ip ARGS`; its stderr as the error.
fn ip(args: &[&str]) -> Result<String, String> {
    run(
        Command::new("ip").args(args),
        &format!("ip {}", args.join(" ")),
    )
}

/// Runs `nft -f -` in namespace `ns` on `script`.
fn nft(ns: &str, script: &str) -> Result<String, String> {
    use std::io::Write as _;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running ip netns exec {ns} nft: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .map_err(|e| format!("writing to nft: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for nft: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "nft in {ns} failed ({}): {}\nscript:\n{script}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn run(command: &mut Command, what: &str) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A `10.A.B` subnet no address of this host is in, derived from the process id and `k` (so
/// that parallel runs start from different ones).
fn free_subnet(k: usize) -> [u8; 3] {
    let used = ip(&["-4", "-o", "addr", "show"]).unwrap_or_default();
    let start = std::process::id() as usize * 31 + k * 7;
    for step in 0..16384 {
        let h = (start + step) % 16384;
        let subnet = [10, 128 + (h / 256) as u8, (h % 256) as u8];
        let prefix = format!(" {}.{}.{}.", subnet[0], subnet[1], subnet[2]);
        if !used.contains(&prefix) {
            return subnet;
        }
    }
    panic!("no free 10.128.0.0/10 subnet for network namespaces");
}

/// The process id in a name of this fixture (`sf<pid><letter>...`, after `strait-` for a
/// namespace), if it is one.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("strait-").unwrap_or(name);
    let rest = rest.strip_prefix(PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = rest[digits.len()..].chars().next()?;
    if digits.is_empty() || !after.is_ascii_lowercase() {
        return None;
    }
    digits.parse().ok()
}

/// Removes the namespaces and bridges of test processes that are gone (killed before their
/// [`Net`] was dropped). Touches nothing else: only names this fixture gives, of dead processes.
fn sweep_stale() {
    let gone = |pid: u32| !std::path::Path::new(&format!("/proc/{pid}")).exists();
    let namespaces = ip(&["netns", "list"]).unwrap_or_default();
    for ns in namespaces
        .lines()
        .filter_map(|l| l.split_whitespace().next())
    {
        if ns.starts_with("strait-") && owner_pid(ns).is_some_and(gone) {
            let _ = ip(&["netns", "del", ns]);
        }
    }
    let links = ip(&["-o", "link", "show", "type", "bridge"]).unwrap_or_default();
    for line in links.lines() {
        // "12: sf123ab: <BROADCAST,...> ..."
        let Some(name) = line
            .split(": ")
            .nth(1)
            .map(|n| n.split('@').next().unwrap_or(n))
        else {
            continue;
        };
        if owner_pid(name).is_some_and(gone) {
            let _ = ip(&["link", "del", name]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::owner_pid;

    #[test]
    fn names_carry_the_owner_pid() {
        assert_eq!(owner_pid("sf1234ab"), Some(1234));
        assert_eq!(owner_pid("strait-sf99c-n3"), Some(99));
        assert_eq!(owner_pid("sf1234"), None);
        assert_eq!(owner_pid("sfab"), None);
        assert_eq!(owner_pid("eth0"), None);
        assert_eq!(owner_pid("strait-other"), None);
    }
}
