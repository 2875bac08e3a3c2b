//! The device allow-list: OCI `linux.resources.devices` rules → v1 `devices.allow`/`devices.deny`
//! lines, or → a v2 `BPF_PROG_TYPE_CGROUP_DEVICE` program.
//!
//! Semantics (both versions): rules apply in order and the last matching rule wins. A rule for
//! every device with every access (`a *:* rwm`, docker's first rule, as deny) resets the list:
//! what came before it no longer matters and it sets the default. Without such a rule the
//! default is allow, as in a new v1 cgroup under an unrestricted parent.
//!
//! Known difference from v1: an allow rule matches an access only when it grants all of it,
//! so `allow r` + `allow w` on one device as separate rules does not grant an `rw` open on v2
//! (v1 merges them). Docker's rules always give `rwm` per device, so this does not arise there.

use hull_oci::runtime::DeviceRule;
use hull_sys::bpf::{self, dev_ctx, Insn, Reg};

use std::fs;
use std::path::Path;

use super::CgroupError;

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    /// `'a'`, `'b'` or `'c'`.
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// A subset of `rwm`, in that order.
    pub access: String,
}

impl Rule {
    fn is_everything(&self) -> bool {
        self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
    }

    /// The v1 line: `c 1:3 rwm`, `*` for wildcards; `a` for the everything rule.
    pub fn v1_line(&self) -> String {
        if self.is_everything() {
            return "a".into();
        }
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            num(self.major),
            num(self.minor),
            self.access
        )
    }

    /// The v1 file the line goes to.
    pub fn v1_file(&self) -> &'static str {
        if self.allow {
            "devices.allow"
        } else {
            "devices.deny"
        }
    }
}

fn bad(rule: &DeviceRule, reason: &str) -> CgroupError {
    CgroupError::InvalidResource {
        what: "devices",
        reason: format!("{rule:?}: {reason}"),
    }
}

/// `None`/`-1` is a wildcard; real majors and minors fit in 12 and 20 bits.
fn number(n: Option<i64>, rule: &DeviceRule) -> Result<Option<u32>, CgroupError> {
    match n {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|&n| n <= i32::MAX as u32)
            .map(Some)
            .ok_or_else(|| bad(rule, "major/minor out of range")),
    }
}

fn validate(rule: &DeviceRule) -> Result<Rule, CgroupError> {
    let kind = match rule.kind.as_deref().unwrap_or("a") {
        "a" => 'a',
        "b" => 'b',
        "c" => 'c',
        _ => return Err(bad(rule, "type must be a, b or c")),
    };
    let given = rule.access.as_deref().unwrap_or("rwm");
    if given.is_empty() || given.chars().any(|c| !"rwm".contains(c)) {
        return Err(bad(rule, "access must be some of r, w, m"));
    }
    let access = "rwm".chars().filter(|&c| given.contains(c)).collect();
    Ok(Rule {
        allow: rule.allow,
        kind,
        major: number(rule.major, rule)?,
        minor: number(rule.minor, rule)?,
        access,
    })
}

/// Validates the rules and drops those made irrelevant by a later everything-rule. Returns the
/// default verdict and the remaining rules in order.
pub(crate) fn effective_rules(rules: &[DeviceRule]) -> Result<(bool, Vec<Rule>), CgroupError> {
    let rules = rules.iter().map(validate).collect::<Result<Vec<_>, _>>()?;
    match rules.iter().rposition(Rule::is_everything) {
        Some(i) => Ok((rules[i].allow, rules[i + 1..].to_vec())),
        None => Ok((true, rules)),
    }
}

/// v1: (file, line) writes in order. The everything-rule (if any) goes first, as `a`.
pub(crate) fn v1_lines(rules: &[DeviceRule]) -> Result<Vec<(&'static str, String)>, CgroupError> {
    let (default_allow, rest) = effective_rules(rules)?;
    let has_reset = rules
        .iter()
        .filter_map(|r| validate(r).ok())
        .any(|r| r.is_everything());
    let mut out = Vec::new();
    if has_reset {
        let file = if default_allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        out.push((file, "a".to_string()));
    }
    out.extend(rest.iter().map(|r| (r.v1_file(), r.v1_line())));
    Ok(out)
}

fn access_bits(access: &str) -> i32 {
    access
        .chars()
        .map(|c| match c {
            'r' => dev_ctx::ACC_READ,
            'w' => dev_ctx::ACC_WRITE,
            _ => dev_ctx::ACC_MKNOD,
        })
        .fold(0, |a, b| a | b)
}

const ALL_ACCESS: i32 = dev_ctx::ACC_READ | dev_ctx::ACC_WRITE | dev_ctx::ACC_MKNOD;

/// A check that jumps to the next rule's block when it fails; the offset is filled in once the
/// block's length is known.
enum Check {
    Type(i32),
    /// Allow: the requested access must be a subset of the rule's (`req & rule == req`).
    /// Deny: any overlap matches (`req & rule != 0`), so denying `w` also denies `rw`.
    Access {
        bits: i32,
        allow: bool,
    },
    Major(u32),
    Minor(u32),
}

/// Registers after the prologue: R2 = device type, R3 = requested access, R4 = major,
/// R5 = minor. R1 (the context) is free to use as a scratch register afterwards.
fn prologue() -> [Insn; 6] {
    [
        Insn::load_u32(Reg::R2, Reg::R1, dev_ctx::ACCESS_TYPE),
        Insn::and32_imm(Reg::R2, 0xffff), // type: low 16 bits
        Insn::load_u32(Reg::R3, Reg::R1, dev_ctx::ACCESS_TYPE),
        Insn::rsh32_imm(Reg::R3, 16), // access: high 16 bits
        Insn::load_u32(Reg::R4, Reg::R1, dev_ctx::MAJOR),
        Insn::load_u32(Reg::R5, Reg::R1, dev_ctx::MINOR),
    ]
}

fn checks(rule: &Rule) -> Vec<Check> {
    let mut out = Vec::new();
    match rule.kind {
        'b' => out.push(Check::Type(dev_ctx::DEV_BLOCK)),
        'c' => out.push(Check::Type(dev_ctx::DEV_CHAR)),
        _ => {}
    }
    let bits = access_bits(&rule.access);
    if bits != ALL_ACCESS {
        out.push(Check::Access {
            bits,
            allow: rule.allow,
        });
    }
    out.extend(rule.major.map(Check::Major));
    out.extend(rule.minor.map(Check::Minor));
    out
}

fn verdict(allow: bool) -> [Insn; 2] {
    [Insn::mov32_imm(Reg::R0, i32::from(allow)), Insn::exit()]
}

/// Emits one rule's block: its checks, each jumping past the block when it fails, then the
/// verdict.
fn rule_block(rule: &Rule) -> Vec<Insn> {
    // Instructions per check, so jump offsets can be computed before emitting.
    let len = |c: &Check| match c {
        Check::Access { .. } => 3,
        _ => 1,
    };
    let checks = checks(rule);
    let mut remaining: i16 = checks.iter().map(len).sum::<i16>() + 2;
    let mut out = Vec::new();
    for check in &checks {
        remaining -= len(check);
        // Jump offsets count from the instruction after the jump, which is the last one of
        // this check: skip what is left of the block.
        let skip = remaining;
        match *check {
            Check::Type(t) => out.push(Insn::jne_imm(Reg::R2, t, skip)),
            Check::Major(n) => out.push(Insn::jne_imm(Reg::R4, n as i32, skip)),
            Check::Minor(n) => out.push(Insn::jne_imm(Reg::R5, n as i32, skip)),
            Check::Access { bits, allow: true } => out.extend([
                Insn::mov32_reg(Reg::R1, Reg::R3),
                Insn::and32_imm(Reg::R1, bits),
                Insn::jne_reg(Reg::R1, Reg::R3, skip),
            ]),
            Check::Access { bits, allow: false } => out.extend([
                Insn::mov32_reg(Reg::R1, Reg::R3),
                Insn::and32_imm(Reg::R1, bits),
                Insn::jeq_imm(Reg::R1, 0, skip),
            ]),
        }
    }
    out.extend(verdict(rule.allow));
    out
}

/// The whole program: prologue, one block per rule in reverse order (so the first block that
/// matches is the last matching rule), then the default verdict.
pub(crate) fn program(rules: &[DeviceRule]) -> Result<Vec<Insn>, CgroupError> {
    let (default_allow, rules) = effective_rules(rules)?;
    let mut insns: Vec<Insn> = prologue().to_vec();
    for rule in rules.iter().rev() {
        insns.extend(rule_block(rule));
    }
    insns.extend(verdict(default_allow));
    Ok(insns)
}

/// v2: compiles `rules` and attaches the program to the cgroup directory `dir`, beside any
/// attached before (BPF_F_ALLOW_MULTI: every one must allow).
pub(super) fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let insns = program(rules)?;
    let err = |source| CgroupError::DeviceFilter {
        dir: dir.into(),
        source,
    };
    let cgroup = fs::File::open(dir).map_err(err)?;
    let prog = bpf::prog_load(bpf::ProgType::CgroupDevice, &insns, c"Apache-2.0").map_err(err)?;
    // The attachment holds its own reference to the program; our fd can close afterwards.
    bpf::prog_attach(
        std::os::fd::AsFd::as_fd(&prog),
        std::os::fd::AsFd::as_fd(&cgroup),
        bpf::AttachType::CgroupDevice,
        bpf::F_ALLOW_MULTI,
    )
    .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: &str, major: i64, minor: i64, access: &str) -> DeviceRule {
        DeviceRule {
            allow,
            kind: Some(kind.into()),
            major: Some(major),
            minor: Some(minor),
            access: Some(access.into()),
        }
    }

    fn deny_all() -> DeviceRule {
        DeviceRule {
            allow: false,
            access: Some("rwm".into()),
            ..DeviceRule::default()
        }
    }

    #[test]
    fn v1_lines_for_docker_like_rules() {
        let rules = [
            rule(true, "c", 1, 3, "rwm"),
            deny_all(),
            rule(true, "c", 1, 3, "rwm"),
            rule(true, "c", 136, -1, "rw"),
            rule(false, "b", 8, 0, "w"),
        ];
        assert_eq!(
            v1_lines(&rules).unwrap(),
            [
                ("devices.deny", "a".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string()),
                ("devices.allow", "c 136:* rw".to_string()),
                ("devices.deny", "b 8:0 w".to_string()),
            ]
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(v1_lines(&[rule(true, "x", 1, 3, "rwm")]).is_err());
        assert!(v1_lines(&[rule(true, "c", 1, 3, "rwx")]).is_err());
        assert!(v1_lines(&[rule(true, "c", 1 << 40, 3, "r")]).is_err());
        assert!(program(&[rule(true, "c", -7, 3, "r")]).is_err());
    }

    #[test]
    fn access_is_normalised() {
        let (_, rules) = effective_rules(&[rule(true, "c", 1, 3, "mwr")]).unwrap();
        assert_eq!(rules[0].access, "rwm");
    }

    #[test]
    fn empty_program_allows_everything() {
        let p = program(&[]).unwrap();
        assert_eq!(p.len(), 8);
        assert_eq!(p[6], Insn::mov32_imm(Reg::R0, 1));
        assert_eq!(p[7], Insn::exit());
    }

    #[test]
    fn program_for_deny_all_then_allow_null() {
        let p = program(&[deny_all(), rule(true, "c", 1, 3, "rwm")]).unwrap();
        let expected = [
            Insn::load_u32(Reg::R2, Reg::R1, 0),
            Insn::and32_imm(Reg::R2, 0xffff),
            Insn::load_u32(Reg::R3, Reg::R1, 0),
            Insn::rsh32_imm(Reg::R3, 16),
            Insn::load_u32(Reg::R4, Reg::R1, 4),
            Insn::load_u32(Reg::R5, Reg::R1, 8),
            // c 1:3 rwm → allow
            Insn::jne_imm(Reg::R2, dev_ctx::DEV_CHAR, 4),
            Insn::jne_imm(Reg::R4, 1, 3),
            Insn::jne_imm(Reg::R5, 3, 2),
            Insn::mov32_imm(Reg::R0, 1),
            Insn::exit(),
            // default: deny
            Insn::mov32_imm(Reg::R0, 0),
            Insn::exit(),
        ];
        assert_eq!(p, expected);
    }

    #[test]
    fn partial_access_blocks() {
        let p = program(&[rule(true, "c", 5, -1, "rw"), rule(false, "b", 8, 0, "w")]).unwrap();
        // Reverse order: the deny rule's block first.
        let deny_block = [
            Insn::jne_imm(Reg::R2, dev_ctx::DEV_BLOCK, 7),
            Insn::mov32_reg(Reg::R1, Reg::R3),
            Insn::and32_imm(Reg::R1, dev_ctx::ACC_WRITE),
            Insn::jeq_imm(Reg::R1, 0, 4),
            Insn::jne_imm(Reg::R4, 8, 3),
            Insn::jne_imm(Reg::R5, 0, 2),
            Insn::mov32_imm(Reg::R0, 0),
            Insn::exit(),
        ];
        assert_eq!(p[6..14], deny_block);
        assert_eq!(p[9].code, 0x15, "JEQ | K | JMP");
        let allow_block = [
            Insn::jne_imm(Reg::R2, dev_ctx::DEV_CHAR, 6),
            Insn::mov32_reg(Reg::R1, Reg::R3),
            Insn::and32_imm(Reg::R1, dev_ctx::ACC_READ | dev_ctx::ACC_WRITE),
            Insn::jne_reg(Reg::R1, Reg::R3, 3),
            Insn::jne_imm(Reg::R4, 5, 2),
            Insn::mov32_imm(Reg::R0, 1),
            Insn::exit(),
        ];
        assert_eq!(p[14..21], allow_block);
        assert_eq!(p[21..], verdict(true));
    }

    #[test]
    fn docker_default_rules_pass_the_kernel_verifier() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: loading a BPF program needs root");
            return;
        }
        let mut rules = vec![deny_all()];
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
        ] {
            rules.push(rule(true, "c", major, minor, "rwm"));
        }
        rules.push(rule(true, "c", 136, -1, "rwm"));
        rules.push(rule(false, "b", 8, 0, "w"));
        rules.push(rule(true, "c", 10, 200, "rw"));
        let p = program(&rules).unwrap();
        hull_sys::bpf::prog_load(hull_sys::bpf::ProgType::CgroupDevice, &p, c"Apache-2.0")
            .unwrap_or_else(|e| panic!("verifier refused the program: {e}"));
    }

    /// An interpreter for the few instructions we emit, to check verdicts as behaviour rather
    /// than as instruction sequences.
    fn run(p: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> bool {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut r = [0u64; 6];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0x61 => r[dst] = u64::from(ctx[i.off as usize / 4]),
                0x54 => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                0x74 => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                0xb4 => r[dst] = i.imm as u32 as u64,
                0xbc => r[dst] = r[src] as u32 as u64,
                0x55 if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                0x15 if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                0x5d if r[dst] != r[src] => pc += i.off as usize,
                0x55 | 0x15 | 0x5d => {}
                0x95 => return r[0] == 1,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn verdict_table() {
        use dev_ctx::{ACC_MKNOD as M, ACC_READ as R, ACC_WRITE as W, DEV_BLOCK, DEV_CHAR};
        let rules = [
            deny_all(),
            rule(true, "c", 1, 3, "rwm"),     // null
            rule(true, "c", 136, -1, "rw"),   // pts, any minor, no mknod
            rule(true, "b", 8, -1, "rwm"),    // sd*
            rule(false, "b", 8, 0, "w"),      // but sda read-only
            rule(true, "c", 10, 200, "rwm"),  // tun
            rule(false, "c", 10, 200, "rwm"), // …then revoked: last rule wins
        ];
        let p = program(&rules).unwrap();
        let table = [
            (DEV_CHAR, R | W, 1, 3, true),
            (DEV_CHAR, M, 1, 3, true),
            (DEV_BLOCK, R, 1, 3, false), // right numbers, wrong type
            (DEV_CHAR, R, 1, 5, false),  // zero: not listed
            (DEV_CHAR, R | W, 136, 7, true),
            (DEV_CHAR, M, 136, 7, false),
            (DEV_BLOCK, R, 8, 0, true),
            (DEV_BLOCK, W, 8, 0, false),
            (DEV_BLOCK, R | W, 8, 0, false), // overlaps the denied w
            (DEV_BLOCK, R | W, 8, 1, true),
            (DEV_CHAR, R, 10, 200, false),
        ];
        for (kind, access, major, minor, want) in table {
            assert_eq!(
                run(&p, kind, access, major, minor),
                want,
                "type {kind} access {access} {major}:{minor}"
            );
        }
    }
}
