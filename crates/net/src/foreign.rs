//! Other firewalls' forward chains. On the forward hook every base chain must accept a packet:
//! an accept in hull's own table cannot override a drop in another. Two such drops are common:
//! - dockerd, started with ip_forward=0 (as at boot), sets iptables' filter FORWARD policy to
//!   DROP; Docker documents its `DOCKER-USER` chain for other tools' rules;
//! - a hardened host's own nftables ruleset, e.g. an `inet filter` forward chain `policy drop`.
//!
//! When a network's bridge comes up, hull opens the forward path for that bridge only
//! ([`bridge_rules`]), tagged like its own rules so that removal and the sweep find them:
//! - iptables, when installed: into `DOCKER-USER` when it exists, else into `FORWARD`. Always,
//!   even under an ACCEPT policy: dockerd may start later and set DROP while hull's containers
//!   run (its own jumps go first in FORWARD, and hull's accepts still follow them).
//! - nftables, when installed: into every other base chain of family ip or inet on the forward
//!   hook whose policy is drop (iptables-nft's `ip filter FORWARD` is left to the iptables pass).
//!
//! hull adds accepts there instead of failing with advice: a drop policy means "forward only
//! what is allowed", and running a container on a hull network is the request to forward for
//! that bridge, which Docker, podman's netavark and libvirt each grant themselves in the same
//! chains. Failing would leave every hull container on such a host without egress until the
//! admin wrote rules for bridges that come and go with networks. The accepts cover hull's
//! bridges only, keep the isolation between hull bridges, and go with the network's last
//! endpoint and with `hull network sweep`. Not detected: a drop by a rule (not a policy) in a
//! chain whose policy is accept. When a foreign chain refuses the insert, the error names the
//! chain and the rules that would allow hull's bridges.

use std::process::{Command, Stdio};

use super::firewall::{on_path, run_tool, Chain, Match, Rule, Verdict};
use super::{iptables, nft, NetworkError};

const DOCKER_USER: &str = "DOCKER-USER";
const IPT_CHAINS: [&str; 2] = [DOCKER_USER, "FORWARD"];

/// The accepts for one bridge: within the bridge, out of it to anything but another hull
/// bridge, replies into it, and published ports (DNATed) into it from outside hull's bridges.
pub fn bridge_rules(bridge: &str) -> Vec<Rule> {
    let br = || bridge.to_string();
    let hull = || "hull".to_string();
    let accept = |m| Rule::new(Chain::Forward, m, Verdict::Accept);
    vec![
        accept(vec![Match::InIface(br()), Match::OutIface(br())]),
        accept(vec![Match::InIface(br()), Match::NotOutIfacePrefix(hull())]),
        accept(vec![Match::OutIface(br()), Match::Reply]),
        accept(vec![
            Match::NotInIfacePrefix(hull()),
            Match::OutIface(br()),
            Match::Dnatted,
        ]),
    ]
}

/// Adds the bridge's accepts wherever a foreign chain may drop its traffic (idempotent: a
/// chain that has the tag already is skipped). The caller holds the firewall lock.
pub fn allow(tag: &str, bridge: &str) -> Result<(), NetworkError> {
    let rules = bridge_rules(bridge);
    let ipt = on_path("iptables");
    let set = if on_path("nft") {
        Some(ruleset()?)
    } else {
        None
    };
    if ipt {
        iptables_allow(tag, &rules)?;
        // iptables-nft creates `ip filter` on first use: hull deletes it again with its last
        // rule when nothing else came to use it (see `forget_filter_table`).
        if set.as_ref().is_some_and(|s| !has_table(s, "ip", "filter")) {
            std::fs::create_dir_all("/run/hull").map_err(io("create", "/run/hull"))?;
            std::fs::write(MADE_FILTER, b"1\n").map_err(io("write", MADE_FILTER))?;
        }
    }
    if let Some(set) = set {
        nft_allow(tag, &set, &rules, ipt)?;
    }
    Ok(())
}

/// Marks that hull's first iptables rule created iptables-nft's `ip filter` table.
const MADE_FILTER: &str = "/run/hull/ip-filter.made-by-hull";

fn io(op: &'static str, path: &str) -> impl FnOnce(std::io::Error) -> NetworkError {
    let path = path.into();
    move |source| NetworkError::Io { op, path, source }
}

fn has_table(set: &serde_json::Value, family: &str, name: &str) -> bool {
    items(set, "table").any(|t| t["family"] == family && t["name"] == name)
}

/// The script that deletes `ip filter` when it holds no rule and only base chains that accept
/// (none when something else uses it: a rule, a chain of its own, a drop policy). Each chain is
/// deleted first, so the transaction fails, and deletes nothing, if a rule arrived since the
/// listing.
pub fn unused_filter_table(set: &serde_json::Value) -> Option<String> {
    let in_filter = |v: &&serde_json::Value| v["family"] == "ip" && v["table"] == "filter";
    if !has_table(set, "ip", "filter") || items(set, "rule").any(|r| in_filter(&r)) {
        return None;
    }
    let chains: Vec<&serde_json::Value> = items(set, "chain").filter(in_filter).collect();
    if chains.iter().any(|c| c["policy"] != "accept") {
        return None;
    }
    let mut script: String = chains
        .iter()
        .filter_map(|c| Some(format!("delete chain ip filter {}\n", c["name"].as_str()?)))
        .collect();
    script.push_str("delete table ip filter\n");
    Some(script)
}

/// Deletes `ip filter` (and forgets the mark) once hull made it and nothing uses it any more:
/// neither another hull network's accepts nor another tool. `set` is a listing taken after
/// the iptables rules went.
fn forget_filter_table(set: &serde_json::Value) -> Result<(), NetworkError> {
    if !std::path::Path::new(MADE_FILTER).exists() {
        return Ok(());
    }
    if has_table(set, "ip", "filter") {
        let Some(script) = unused_filter_table(set) else {
            return Ok(()); // still in use
        };
        nft::run(&script)?;
    }
    std::fs::remove_file(MADE_FILTER).map_err(io("remove", MADE_FILTER))
}

/// Deletes the foreign rules whose tag `doomed` selects; returns their tags. The caller holds
/// the firewall lock.
pub fn remove(doomed: &dyn Fn(&str) -> bool) -> Result<Vec<String>, NetworkError> {
    let mut gone = Vec::new();
    if on_path("iptables") {
        gone.extend(iptables_remove(doomed)?);
    }
    if on_path("nft") {
        let set = ruleset()?;
        gone.extend(nft_remove(&set, doomed)?);
        forget_filter_table(&set)?;
    }
    Ok(gone)
}

fn ipt(args: &[&str]) -> Result<String, NetworkError> {
    let mut all = vec!["-t", "filter"];
    all.extend_from_slice(args);
    iptables::iptables(&all)
}

fn iptables_allow(tag: &str, rules: &[Rule]) -> Result<(), NetworkError> {
    let chain = if ipt(&["-S", DOCKER_USER]).is_ok() {
        DOCKER_USER
    } else {
        "FORWARD"
    };
    // An iptables that cannot read its filter table (a legacy one without its kernel modules)
    // holds no rule that could drop anything.
    let Ok(listing) = ipt(&["-S", chain]) else {
        return Ok(());
    };
    if tagged_lines(&listing, chain).iter().any(|(t, _)| t == tag) {
        return Ok(());
    }
    let lines: Vec<String> = rules
        .iter()
        .rev()
        .map(|r| format!("-I {chain} {}", quoted(&iptables::render(r, tag))))
        .collect();
    restore(&lines).map_err(|e| refused(&format!("iptables filter {chain}"), e))
}

/// Applies `-I`/`-D` lines to the filter table in one `iptables-restore --noflush` run: one
/// transaction (each commit of the kernel's ruleset is slow on a busy host), all or nothing.
fn restore(lines: &[String]) -> Result<(), NetworkError> {
    let input = format!("*filter\n{}\nCOMMIT\n", lines.join("\n"));
    run_tool("iptables-restore", &["-w", "--noflush"], Some(&input)).map(drop)
}

/// Arguments as one iptables-restore line: those with spaces (the tag) in double quotes.
pub fn quoted(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("\"{a}\"")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn iptables_remove(doomed: &dyn Fn(&str) -> bool) -> Result<Vec<String>, NetworkError> {
    let (mut gone, mut lines) = (Vec::new(), Vec::new());
    for chain in IPT_CHAINS {
        let Ok(listing) = ipt(&["-S", chain]) else {
            continue; // no such chain (DOCKER-USER without Docker)
        };
        // Deleted by spec, not number: Docker may change the chain meanwhile.
        for (tag, line) in tagged_lines(&listing, chain) {
            if doomed(&tag) {
                lines.push(format!("-D {}", &line["-A ".len()..]));
                gone.push(tag);
            }
        }
    }
    if !lines.is_empty() {
        restore(&lines)?;
    }
    Ok(gone)
}

/// The `-A CHAIN` lines of `iptables -S CHAIN` that carry a comment, with it.
pub fn tagged_lines(listing: &str, chain: &str) -> Vec<(String, String)> {
    let prefix = format!("-A {chain} ");
    listing
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| Some((iptables::comment_of(l)?, l.to_string())))
        .collect()
}

/// A base chain or rule location in the nft ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub family: String,
    pub table: String,
    pub chain: String,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.family, self.table, self.chain)
    }
}

fn ruleset() -> Result<serde_json::Value, NetworkError> {
    let fail = |detail: String| NetworkError::Firewall {
        op: "nft list ruleset",
        detail,
    };
    let out = Command::new("nft")
        .args(["-j", "list", "ruleset"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))
}

fn items<'a>(
    v: &'a serde_json::Value,
    kind: &'a str,
) -> impl Iterator<Item = &'a serde_json::Value> {
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(move |i| i.get(kind))
}

fn place_of(v: &serde_json::Value, name_key: &str) -> Option<Place> {
    Some(Place {
        family: v["family"].as_str()?.to_string(),
        table: v["table"].as_str()?.to_string(),
        chain: v[name_key].as_str()?.to_string(),
    })
}

fn is_hulls(p: &Place) -> bool {
    p.family == nft::FAMILY && p.table == nft::TABLE
}

/// The foreign base chains that drop forwarded IPv4 by policy. With iptables installed, its
/// own `ip filter FORWARD` is left out (the iptables pass adds to it or to DOCKER-USER).
pub fn drop_chains(ruleset: &serde_json::Value, iptables_present: bool) -> Vec<Place> {
    items(ruleset, "chain")
        .filter(|c| c["hook"] == "forward" && c["policy"] == "drop")
        .filter_map(|c| place_of(c, "name"))
        .filter(|p| p.family == "ip" || p.family == "inet")
        .filter(|p| !is_hulls(p))
        .filter(|p| {
            !(iptables_present && p.family == "ip" && p.table == "filter" && p.chain == "FORWARD")
        })
        .collect()
}

/// The foreign rules whose comment `doomed` selects: (place, handle, comment).
pub fn tagged_rules(
    ruleset: &serde_json::Value,
    doomed: &dyn Fn(&str) -> bool,
) -> Vec<(Place, u64, String)> {
    items(ruleset, "rule")
        .filter_map(|r| {
            let comment = r["comment"].as_str()?;
            let place = place_of(r, "chain")?;
            (!is_hulls(&place) && doomed(comment))
                .then(|| Some((place, r["handle"].as_u64()?, comment.to_string())))
                .flatten()
        })
        .collect()
}

fn nft_allow(
    tag: &str,
    set: &serde_json::Value,
    rules: &[Rule],
    iptables_present: bool,
) -> Result<(), NetworkError> {
    let have: Vec<Place> = tagged_rules(set, &|c| c == tag)
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    for place in drop_chains(set, iptables_present) {
        if have.contains(&place) {
            continue;
        }
        let script: String = rules
            .iter()
            .map(|r| format!("insert rule {place} {}\n", nft::render_body(r, tag)))
            .collect();
        nft::run(&script).map_err(|e| refused(&format!("nft {place} (policy drop)"), e))?;
    }
    Ok(())
}

fn nft_remove(
    set: &serde_json::Value,
    doomed: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, NetworkError> {
    let found = tagged_rules(set, doomed);
    let script: String = found
        .iter()
        .map(|(p, handle, _)| format!("delete rule {p} handle {handle}\n"))
        .collect();
    if !script.is_empty() {
        nft::run(&script)?;
    }
    Ok(found.into_iter().map(|(_, _, c)| c).collect())
}

/// The one-line error when a foreign chain refuses hull's accepts: which chain, and what
/// would let hull's bridges through.
fn refused(place: &str, e: NetworkError) -> NetworkError {
    let detail = match e {
        NetworkError::Firewall { detail, .. } => detail,
        other => other.to_string(),
    };
    NetworkError::Firewall {
        op: "allow forwarding for hull's bridges",
        detail: format!(
            "{place} drops them and refused hull's accepts ({}); allow them there, e.g. \
             `iifname \"hull*\" accept` and `oifname \"hull*\" ct state established,related accept` \
             and `oifname \"hull*\" ct status dnat accept`",
            detail.lines().next().unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
 {"chain": {"family": "inet", "table": "filter", "name": "forward", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
 {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
 {"chain": {"family": "ip", "table": "hull", "name": "forward", "handle": 4, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
 {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 2, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 {"chain": {"family": "ip6", "table": "f6", "name": "fwd", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
 {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 4, "comment": "hull s net a", "expr": []}},
 {"rule": {"family": "inet", "table": "filter", "chain": "forward", "handle": 5, "comment": "admin's", "expr": []}},
 {"rule": {"family": "ip", "table": "hull", "chain": "forward", "handle": 9, "comment": "hull s net a", "expr": []}}]}"#;

    #[test]
    fn finds_foreign_forward_chains_that_drop_by_policy() {
        let set: serde_json::Value = serde_json::from_str(SET).unwrap();
        let names = |v: Vec<Place>| v.iter().map(Place::to_string).collect::<Vec<_>>();
        assert_eq!(names(drop_chains(&set, true)), ["inet filter forward"]);
        assert_eq!(
            names(drop_chains(&set, false)),
            ["inet filter forward", "ip filter FORWARD"]
        );
    }

    #[test]
    fn finds_only_foreign_rules_of_the_doomed_tags() {
        let set: serde_json::Value = serde_json::from_str(SET).unwrap();
        let found = tagged_rules(&set, &|c| c.starts_with("hull s "));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.to_string(), "inet filter forward");
        assert_eq!((found[0].1, found[0].2.as_str()), (4, "hull s net a"));
    }

    #[test]
    fn the_filter_table_goes_only_when_empty_and_accepting() {
        let set = |extra: &str| -> serde_json::Value {
            serde_json::from_str(&format!(
                r#"{{"nftables": [{{"table": {{"family": "ip", "name": "filter"}}}},
 {{"chain": {{"family": "ip", "table": "filter", "name": "FORWARD", "hook": "forward", "policy": "accept"}}}}{extra}]}}"#
            ))
            .unwrap()
        };
        assert_eq!(
            unused_filter_table(&set("")).as_deref(),
            Some("delete chain ip filter FORWARD\ndelete table ip filter\n")
        );
        let rule =
            r#",{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3}}"#;
        assert_eq!(unused_filter_table(&set(rule)), None);
        let docker = r#",{"chain": {"family": "ip", "table": "filter", "name": "DOCKER"}}"#;
        assert_eq!(unused_filter_table(&set(docker)), None);
        let dropping = r#",{"chain": {"family": "ip", "table": "filter", "name": "INPUT", "hook": "input", "policy": "drop"}}"#;
        assert_eq!(unused_filter_table(&set(dropping)), None);
        let none: serde_json::Value = serde_json::from_str(r#"{"nftables": []}"#).unwrap();
        assert_eq!(unused_filter_table(&none), None);
    }

    #[test]
    fn bridge_rules_keep_hull_bridges_apart() {
        let text: Vec<String> = bridge_rules("hull0")
            .iter()
            .map(|r| nft::render_body(r, "t"))
            .collect();
        assert_eq!(
            text,
            [
                "iifname \"hull0\" oifname \"hull0\" accept comment \"t\"",
                "iifname \"hull0\" oifname != \"hull*\" accept comment \"t\"",
                "oifname \"hull0\" ct state established,related accept comment \"t\"",
                "iifname != \"hull*\" oifname \"hull0\" ct status dnat accept comment \"t\"",
            ]
        );
        let ipt = iptables::render(&bridge_rules("hull0")[3], "hull a net b").join(" ");
        assert_eq!(
            ipt,
            "! -i hull+ -o hull0 -m conntrack --ctstate DNAT -m comment --comment hull a net b -j ACCEPT"
        );
    }

    #[test]
    fn restore_lines_read_like_iptables_listings() {
        let listing = "-N DOCKER-USER\n\
-A DOCKER-USER -i hull0 ! -o hull+ -m comment --comment \"hull s net a\" -j ACCEPT\n\
-A DOCKER-USER -j RETURN\n";
        let lines = tagged_lines(listing, "DOCKER-USER");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].0, "hull s net a");
        let rendered = quoted(&iptables::render(&bridge_rules("hull0")[1], "hull s net a"));
        assert_eq!(format!("-A DOCKER-USER {rendered}"), lines[0].1);
    }
}
