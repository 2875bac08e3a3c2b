//! The nftables backend: hull's own table `table ip hull`, driven through `nft -f -`. Apart from
//! the tagged accepts `foreign` inserts into other tables' forward chains that drop, hull never
//! touches a table or chain it did not create. Rules carry their tag as a comment; removal
//! deletes the chosen rules by handle in one transaction, or the whole table when no rule would
//! be left, so a host without hull networks has no hull table.

use std::path::Path;
use std::process::{Command, Stdio};

use super::firewall::{self, Chain, Match, Rule, Verdict};
use super::ledger::{self, Ledger};
use super::NetworkError;

pub const FAMILY: &str = "ip";
pub const TABLE: &str = "hull";

/// The table and base chains, as idempotent `add` commands (adding what exists is a no-op).
/// Priorities: dstnat (-100) for DNAT so it runs before routing; srcnat (100) for masquerade.
pub fn base() -> String {
    format!(
        "add table {FAMILY} {TABLE}\n\
         add chain {FAMILY} {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
         add chain {FAMILY} {TABLE} output {{ type nat hook output priority -100; policy accept; }}\n\
         add chain {FAMILY} {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
         add chain {FAMILY} {TABLE} forward {{ type filter hook forward priority filter; policy accept; }}\n"
    )
}

/// One rule as an `add rule` line in hull's table, tagged with `tag`.
pub fn render(rule: &Rule, tag: &str) -> String {
    let chain = match rule.chain {
        Chain::Prerouting => "prerouting",
        Chain::Output => "output",
        Chain::Postrouting => "postrouting",
        Chain::Forward => "forward",
    };
    format!(
        "add rule {FAMILY} {TABLE} {chain} {}\n",
        render_body(rule, tag)
    )
}

/// A rule's matches, verdict and tag, as they follow the chain in an `add rule` line.
pub fn render_body(rule: &Rule, tag: &str) -> String {
    let mut body: Vec<String> = rule.matches.iter().map(render_match).collect();
    body.push(match rule.verdict {
        Verdict::Masquerade => "masquerade".into(),
        Verdict::Dnat(ip, port) => format!("dnat to {ip}:{port}"),
        Verdict::Drop => "drop".into(),
        Verdict::Return => "return".into(),
        Verdict::Accept => "accept".into(),
    });
    format!("{} comment \"{tag}\"", body.join(" "))
}

fn render_match(m: &Match) -> String {
    match m {
        Match::SourceNet(s) => format!("ip saddr {s}"),
        Match::Source(ip) => format!("ip saddr {ip}"),
        Match::Dest(ip) => format!("ip daddr {ip}"),
        Match::DestLocal => "fib daddr type local".into(),
        Match::InIface(i) => format!("iifname \"{i}\""),
        Match::OutIface(i) => format!("oifname \"{i}\""),
        Match::NotOutIface(i) => format!("oifname != \"{i}\""),
        Match::OutIfacePrefix(p) => format!("oifname \"{p}*\""),
        Match::NotOutIfacePrefix(p) => format!("oifname != \"{p}*\""),
        Match::NotInIfacePrefix(p) => format!("iifname != \"{p}*\""),
        Match::Reply => "ct state established,related".into(),
        Match::Dnatted => "ct status dnat".into(),
        Match::DestPort(proto, port) => format!("{proto} dport {port}"),
    }
}

/// A rule found in hull's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub chain: String,
    pub handle: u64,
    pub comment: String,
}

/// Adds the rules (and the table and chains when missing) in one transaction.
pub fn add(tag: &str, rules: &[Rule]) -> Result<(), NetworkError> {
    let script: String = rules.iter().map(|r| render(r, tag)).collect();
    run(&format!("{}{script}", base()))
}

/// Adds the rules tagged `tag` unless the ledger says they are there, in one `nft` run and
/// without listing the table: `nft --echo --handle` reports the new rules' handles, which the
/// ledger keeps for [`remove_tag`]. The caller holds the firewall lock.
pub fn add_once(tag: &str, rules: &[Rule]) -> Result<(), NetworkError> {
    let path = Path::new(ledger::PATH);
    let mut book = Ledger::load(path);
    if book.tags.contains_key(tag) {
        return Ok(());
    }
    let script: String = rules.iter().map(|r| render(r, tag)).collect();
    let echoed = firewall::run_tool(
        "nft",
        &["--echo", "--handle", "-f", "-"],
        Some(&format!("{}{script}", base())),
    )?;
    book.tags.insert(tag.to_string(), parse_echo(&echoed));
    book.save(path)
}

/// The rules in `nft --echo --handle` output: `add rule ip hull CHAIN … # handle N`.
pub fn parse_echo(out: &str) -> Vec<ledger::Entry> {
    let prefix = format!("add rule {FAMILY} {TABLE} ");
    out.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let chain = rest.split_whitespace().next()?;
            let handle = rest.rsplit_once("# handle ")?.1.trim().parse().ok()?;
            Some(ledger::Entry {
                chain: chain.to_string(),
                handle,
            })
        })
        .collect()
}

/// Deletes the rules tagged `tag`. When the ledger knows them and other tags remain, by handle
/// in one `nft` run without a listing; otherwise (the last tag, whose removal may delete the
/// table, or a tag the ledger lacks, or a delete that failed) through [`remove`], which lists.
/// The caller holds the firewall lock.
pub fn remove_tag(tag: &str) -> Result<(), NetworkError> {
    let path = Path::new(ledger::PATH);
    let mut book = Ledger::load(path);
    let Some(entries) = book.tags.remove(tag) else {
        return remove(&|c| c == tag).map(drop);
    };
    if book.tags.is_empty() || entries.is_empty() {
        return remove(&|c| c == tag).map(drop);
    }
    let script: String = entries
        .iter()
        .map(|e| {
            format!(
                "delete rule {FAMILY} {TABLE} {} handle {}\n",
                e.chain, e.handle
            )
        })
        .collect();
    match run(&script) {
        Ok(()) => book.save(path),
        Err(_) => remove(&|c| c == tag).map(drop),
    }
}

/// Runs an nft script as one transaction: all of it applies, or none.
pub fn run(script: &str) -> Result<(), NetworkError> {
    firewall::run_tool("nft", &["-f", "-"], Some(script)).map(drop)
}

/// The rules in hull's table (none when the table does not exist).
pub fn rules() -> Result<Vec<Listed>, NetworkError> {
    let fail = |detail: String| NetworkError::Firewall {
        op: "nft list table ip hull",
        detail,
    };
    let out = Command::new("nft")
        .args(["-j", "list", "table", FAMILY, TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No such file or directory") {
            return Ok(Vec::new());
        }
        return Err(fail(err.trim().to_string()));
    }
    Ok(parse_rules(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `nft -j list table` output into the rules with their chains, handles and comments.
pub fn parse_rules(json: &str) -> Vec<Listed> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let r = item.get("rule")?;
            Some(Listed {
                chain: r["chain"].as_str()?.to_string(),
                handle: r["handle"].as_u64()?,
                comment: r["comment"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Deletes every rule whose tag `doomed` selects, and the table when no rule is left (the
/// caller holds the firewall lock). Returns the deleted rules' tags.
pub fn remove(doomed: &dyn Fn(&str) -> bool) -> Result<Vec<String>, NetworkError> {
    let (gone, kept): (Vec<Listed>, Vec<Listed>) =
        rules()?.into_iter().partition(|r| doomed(&r.comment));
    let script = delete_script(&gone, kept.is_empty());
    if !script.is_empty() {
        run(&script)?;
    }
    Ledger::from_listing(&kept).save(Path::new(ledger::PATH))?;
    Ok(gone.into_iter().map(|r| r.comment).collect())
}

fn delete_script(gone: &[Listed], table_empty_after: bool) -> String {
    if gone.is_empty() {
        return String::new();
    }
    if table_empty_after {
        return format!("delete table {FAMILY} {TABLE}\n");
    }
    gone.iter()
        .map(|r| {
            format!(
                "delete rule {FAMILY} {TABLE} {} handle {}\n",
                r.chain, r.handle
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
 {"table": {"family": "ip", "name": "hull", "handle": 7}},
 {"chain": {"family": "ip", "table": "hull", "name": "prerouting", "handle": 1}},
 {"rule": {"family": "ip", "table": "hull", "chain": "prerouting", "handle": 5, "comment": "hull abc ep n1 c1", "expr": []}},
 {"rule": {"family": "ip", "table": "hull", "chain": "postrouting", "handle": 9, "comment": "hull abc net n1", "expr": []}}]}"#;

    #[test]
    fn parses_rules_with_handles_and_comments() {
        let rules = parse_rules(LISTING);
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0],
            Listed {
                chain: "prerouting".into(),
                handle: 5,
                comment: "hull abc ep n1 c1".into()
            }
        );
    }

    #[test]
    fn deletes_by_handle_or_the_whole_table_when_nothing_is_left() {
        let rules = parse_rules(LISTING);
        assert_eq!(
            delete_script(&rules[..1], false),
            "delete rule ip hull prerouting handle 5\n"
        );
        assert_eq!(delete_script(&rules, true), "delete table ip hull\n");
        assert_eq!(delete_script(&[], true), "");
    }

    #[test]
    fn parses_the_handles_nft_echoes() {
        let out = "add table ip hull # handle 758\n\
            add chain ip hull postrouting { type nat hook postrouting priority srcnat; policy accept; } # handle 1\n\
            add rule ip hull postrouting ip saddr 10.9.0.0/24 oifname != \"b\" masquerade comment \"hull s net a\" # handle 12\n\
            add rule ip hull forward iifname \"b\" oifname \"hull*\" drop comment \"hull s net a\" # handle 13\n\
            # new generation 5191 by process 18449 (nft)\n";
        assert_eq!(
            parse_echo(out),
            vec![
                ledger::Entry {
                    chain: "postrouting".into(),
                    handle: 12
                },
                ledger::Entry {
                    chain: "forward".into(),
                    handle: 13
                },
            ]
        );
    }

    #[test]
    fn rules_render_with_their_tag() {
        let r = Rule::new(
            Chain::Forward,
            vec![
                Match::InIface("b".into()),
                Match::OutIfacePrefix("hull".into()),
            ],
            Verdict::Drop,
        );
        assert_eq!(
            render(&r, "hull r net x"),
            "add rule ip hull forward iifname \"b\" oifname \"hull*\" drop comment \"hull r net x\"\n"
        );
        let d = Rule::new(
            Chain::Output,
            vec![
                Match::DestLocal,
                Match::DestPort(super::super::Proto::Udp, 53),
            ],
            Verdict::Dnat([10, 0, 0, 2].into(), 5353),
        );
        assert!(render(&d, "t")
            .contains("output fib daddr type local udp dport 53 dnat to 10.0.0.2:5353"));
        assert!(base().contains("type nat hook prerouting priority dstnat"));
    }
}
