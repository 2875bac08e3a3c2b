//! The iptables fallback, for hosts without `nft`: hull's own chains (`HULL-PREROUTING`,
//! `HULL-OUTPUT`, `HULL-POSTROUTING` in nat, `HULL-FORWARD` in filter), each jumped to by one rule
//! at the top of its built-in chain. Rules carry their tag with `-m comment`; removal deletes
//! them by rule number (highest first, so numbers stay valid), and the chains and jumps go when
//! every hull chain is empty. hull never flushes a chain it did not create.

use super::firewall::{run_tool, Chain, Match, Rule, Verdict};
use super::NetworkError;

/// (table, built-in chain, hull's chain)
const CHAINS: [(&str, &str, &str); 4] = [
    ("nat", "PREROUTING", "HULL-PREROUTING"),
    ("nat", "OUTPUT", "HULL-OUTPUT"),
    ("nat", "POSTROUTING", "HULL-POSTROUTING"),
    ("filter", "FORWARD", "HULL-FORWARD"),
];

fn chain_of(c: Chain) -> (&'static str, &'static str) {
    let (table, _, ours) = CHAINS[match c {
        Chain::Prerouting => 0,
        Chain::Output => 1,
        Chain::Postrouting => 2,
        Chain::Forward => 3,
    }];
    (table, ours)
}

pub fn iptables(args: &[&str]) -> Result<String, NetworkError> {
    let mut all = vec!["-w"];
    all.extend_from_slice(args);
    run_tool("iptables", &all, None)
}

/// The iptables arguments after `-A CHAIN` for one rule.
pub fn render(rule: &Rule, tag: &str) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    for m in &rule.matches {
        let parts: Vec<String> = match m {
            Match::SourceNet(s) => vec!["-s".into(), s.to_string()],
            Match::Source(ip) => vec!["-s".into(), ip.to_string()],
            Match::Dest(ip) => vec!["-d".into(), ip.to_string()],
            Match::DestLocal => ["-m", "addrtype", "--dst-type", "LOCAL"]
                .map(String::from)
                .to_vec(),
            Match::InIface(i) => vec!["-i".into(), i.clone()],
            Match::OutIface(i) => vec!["-o".into(), i.clone()],
            Match::NotOutIface(i) => vec!["!".into(), "-o".into(), i.clone()],
            Match::OutIfacePrefix(p) => vec!["-o".into(), format!("{p}+")],
            Match::NotOutIfacePrefix(p) => vec!["!".into(), "-o".into(), format!("{p}+")],
            Match::NotInIfacePrefix(p) => vec!["!".into(), "-i".into(), format!("{p}+")],
            Match::Reply => ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"]
                .map(String::from)
                .to_vec(),
            Match::Dnatted => ["-m", "conntrack", "--ctstate", "DNAT"]
                .map(String::from)
                .to_vec(),
            Match::DestPort(proto, port) => {
                vec![
                    "-p".into(),
                    proto.to_string(),
                    "--dport".into(),
                    port.to_string(),
                ]
            }
        };
        a.extend(parts);
    }
    a.extend(["-m", "comment", "--comment", tag].map(String::from));
    a.extend(match rule.verdict {
        Verdict::Masquerade => vec!["-j".into(), "MASQUERADE".into()],
        Verdict::Dnat(ip, port) => vec![
            "-j".into(),
            "DNAT".into(),
            "--to-destination".into(),
            format!("{ip}:{port}"),
        ],
        Verdict::Drop => vec!["-j".into(), "DROP".into()],
        Verdict::Return => vec!["-j".into(), "RETURN".into()],
        Verdict::Accept => vec!["-j".into(), "ACCEPT".into()],
    });
    a
}

/// Creates hull's chains and their jumps when missing.
fn ensure_chains() -> Result<(), NetworkError> {
    for (table, builtin, ours) in CHAINS {
        if iptables(&["-t", table, "-S", ours]).is_err() {
            iptables(&["-t", table, "-N", ours])?;
        }
        if iptables(&["-t", table, "-C", builtin, "-j", ours]).is_err() {
            iptables(&["-t", table, "-I", builtin, "-j", ours])?;
        }
    }
    Ok(())
}

/// Appends the rules; on a failure removes the ones of this tag already added.
pub fn add(tag: &str, rules: &[Rule]) -> Result<(), NetworkError> {
    ensure_chains()?;
    for rule in rules {
        let (table, chain) = chain_of(rule.chain);
        let args = render(rule, tag);
        let mut all = vec!["-t", table, "-A", chain];
        all.extend(args.iter().map(String::as_str));
        if let Err(e) = iptables(&all) {
            let _ = remove(&|t| t == tag);
            return Err(e);
        }
    }
    Ok(())
}

/// The comments of the `-A` lines of `iptables -S CHAIN`, in rule order.
pub fn parse_listing(listing: &str, chain: &str) -> Vec<String> {
    let prefix = format!("-A {chain} ");
    listing
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| comment_of(l).unwrap_or_default())
        .collect()
}

pub fn comment_of(line: &str) -> Option<String> {
    let rest = &line[line.find("--comment ")? + "--comment ".len()..];
    match rest.strip_prefix('"') {
        Some(q) => Some(q[..q.find('"')?].to_string()),
        None => rest.split_whitespace().next().map(String::from),
    }
}

fn listed(table: &str, chain: &str) -> Vec<String> {
    iptables(&["-t", table, "-S", chain])
        .map(|out| parse_listing(&out, chain))
        .unwrap_or_default()
}

/// Every tag in hull's chains.
pub fn tags() -> Result<Vec<String>, NetworkError> {
    Ok(CHAINS
        .iter()
        .flat_map(|(table, _, ours)| listed(table, ours))
        .filter(|t| !t.is_empty())
        .collect())
}

/// Deletes the rules whose tag `doomed` selects; then, when all hull chains are empty, their
/// jumps and the chains themselves.
pub fn remove(doomed: &dyn Fn(&str) -> bool) -> Result<Vec<String>, NetworkError> {
    let mut gone = Vec::new();
    let mut left = 0;
    for (table, _, ours) in CHAINS {
        let rules = listed(table, ours);
        for (i, tag) in rules.iter().enumerate().rev() {
            if doomed(tag) {
                iptables(&["-t", table, "-D", ours, &(i + 1).to_string()])?;
                gone.push(tag.clone());
            } else {
                left += 1;
            }
        }
    }
    if left == 0 {
        for (table, builtin, ours) in CHAINS {
            if iptables(&["-t", table, "-S", ours]).is_ok() {
                while iptables(&["-t", table, "-D", builtin, "-j", ours]).is_ok() {}
                iptables(&["-t", table, "-X", ours])?;
            }
        }
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Proto;

    #[test]
    fn renders_matches_comment_and_target() {
        let r = Rule::new(
            Chain::Prerouting,
            vec![Match::DestLocal, Match::DestPort(Proto::Tcp, 8080)],
            Verdict::Dnat([10, 0, 0, 2].into(), 80),
        );
        assert_eq!(
            render(&r, "hull a ep n c").join(" "),
            "-m addrtype --dst-type LOCAL -p tcp --dport 8080 -m comment --comment hull a ep n c -j DNAT --to-destination 10.0.0.2:80"
        );
        let m = Rule::new(
            Chain::Postrouting,
            vec![
                Match::SourceNet("10.1.0.0/16".parse().unwrap()),
                Match::NotOutIface("br".into()),
            ],
            Verdict::Masquerade,
        );
        assert_eq!(
            render(&m, "t").join(" "),
            "-s 10.1.0.0/16 ! -o br -m comment --comment t -j MASQUERADE"
        );
    }

    #[test]
    fn parses_comments_in_rule_order() {
        let listing = "-N HULL-POSTROUTING\n\
-A HULL-POSTROUTING -s 10.1.0.0/16 ! -o br -m comment --comment \"hull a net n\" -j MASQUERADE\n\
-A HULL-POSTROUTING -s 127.0.0.0/8 -o br -m comment --comment single -j MASQUERADE\n\
-A HULL-POSTROUTING -j RETURN\n";
        assert_eq!(
            parse_listing(listing, "HULL-POSTROUTING"),
            vec!["hull a net n".to_string(), "single".into(), String::new()]
        );
    }
}
