//! hull's own nftables table, `table ip hull`, driven through `nft -f -`. hull never touches a
//! table or chain it did not create. Every rule carries a comment naming its owner (a tag), so
//! removal deletes exactly the rules of one owner, by handle, in one transaction; the table
//! itself is deleted when its last rule goes, so a host with no hull networks has no hull table.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

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

/// One `add rule` line in hull's table, tagged with `tag`.
pub fn rule(chain: &str, body: &str, tag: &str) -> String {
    format!("add rule {FAMILY} {TABLE} {chain} {body} comment \"{tag}\"\n")
}

/// A rule found in hull's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    pub handle: u64,
    pub comment: String,
}

/// Whether the `nft` tool is there (else the iptables fallback would be needed).
pub fn available() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("nft").is_file()))
}

/// Holds the host-wide lock for changes to hull's table: hull's table is shared by every hull
/// store on the host, and deleting rules by handle must not race another process.
pub struct Lock(#[allow(dead_code)] File);

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nft::Lock")
    }
}

pub fn lock() -> Result<Lock, NetworkError> {
    let dir = Path::new("/run/hull");
    let path = dir.join("nft.lock");
    let io = |op| {
        let path = path.clone();
        move |source| NetworkError::Io { op, path, source }
    };
    std::fs::create_dir_all(dir).map_err(io("create dir for"))?;
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open"))?;
    f.lock().map_err(io("lock"))?;
    Ok(Lock(f))
}

/// Runs an nft script as one transaction: all of it applies, or none.
pub fn run(script: &str) -> Result<(), NetworkError> {
    let fail = |detail: String| NetworkError::Firewall {
        op: "nft -f -",
        detail,
    };
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let wrote = child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes());
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!("{}: {script}", err.trim())));
    }
    wrote.map_err(|e| fail(e.to_string()))
}

/// The rules in hull's table (none when the table does not exist).
pub fn rules() -> Result<Vec<Rule>, NetworkError> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", FAMILY, TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetworkError::Firewall {
            op: "nft list table",
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No such file or directory") {
            return Ok(Vec::new());
        }
        return Err(NetworkError::Firewall {
            op: "nft list table",
            detail: err.trim().to_string(),
        });
    }
    Ok(parse_rules(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `nft -j list table` output into the rules with their chains, handles and comments.
pub fn parse_rules(json: &str) -> Vec<Rule> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let r = item.get("rule")?;
            Some(Rule {
                chain: r["chain"].as_str()?.to_string(),
                handle: r["handle"].as_u64()?,
                comment: r["comment"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Adds `rules` under the lock unless rules tagged `tag` already exist (idempotent apply).
pub fn add_once(tag: &str, rules: &str) -> Result<(), NetworkError> {
    let _lock = lock()?;
    if self::rules()?.iter().any(|r| r.comment == tag) {
        return Ok(());
    }
    run(&format!("{}{rules}", base()))
}

/// Deletes every rule whose tag `doomed` selects, and the table when no rule is left. Returns
/// the deleted rules' tags.
pub fn remove(doomed: impl Fn(&str) -> bool) -> Result<Vec<String>, NetworkError> {
    let _lock = lock()?;
    let all = rules()?;
    let (gone, kept): (Vec<Rule>, Vec<Rule>) = all.into_iter().partition(|r| doomed(&r.comment));
    let script = delete_script(&gone, kept.is_empty());
    if !script.is_empty() {
        run(&script)?;
    }
    Ok(gone.into_iter().map(|r| r.comment).collect())
}

fn delete_script(gone: &[Rule], table_empty_after: bool) -> String {
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
            Rule {
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
    fn rules_carry_their_tag() {
        assert_eq!(
            rule("forward", "iifname \"b\" drop", "hull r net x"),
            "add rule ip hull forward iifname \"b\" drop comment \"hull r net x\"\n"
        );
        assert!(base().contains("type nat hook prerouting priority dstnat"));
    }
}
