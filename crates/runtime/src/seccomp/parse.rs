//! The OCI seccomp vocabulary (action, architecture, operator and flag names) as tables, and
//! their translation to libseccomp and `seccomp(2)` values.

use hull_oci::runtime::SeccompArg;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp};

use super::{SeccompError, DEFAULT_ERRNO};

/// OCI architecture names. The table (rather than libseccomp's own parser) is the list hull
/// accepts; libseccomp may know more, the spec names these.
const ARCHES: &[(&str, ScmpArch)] = &[
    ("SCMP_ARCH_X86", ScmpArch::X86),
    ("SCMP_ARCH_X86_64", ScmpArch::X8664),
    ("SCMP_ARCH_X32", ScmpArch::X32),
    ("SCMP_ARCH_ARM", ScmpArch::Arm),
    ("SCMP_ARCH_AARCH64", ScmpArch::Aarch64),
    ("SCMP_ARCH_MIPS", ScmpArch::Mips),
    ("SCMP_ARCH_MIPS64", ScmpArch::Mips64),
    ("SCMP_ARCH_MIPS64N32", ScmpArch::Mips64N32),
    ("SCMP_ARCH_MIPSEL", ScmpArch::Mipsel),
    ("SCMP_ARCH_MIPSEL64", ScmpArch::Mipsel64),
    ("SCMP_ARCH_MIPSEL64N32", ScmpArch::Mipsel64N32),
    ("SCMP_ARCH_PPC", ScmpArch::Ppc),
    ("SCMP_ARCH_PPC64", ScmpArch::Ppc64),
    ("SCMP_ARCH_PPC64LE", ScmpArch::Ppc64Le),
    ("SCMP_ARCH_S390", ScmpArch::S390),
    ("SCMP_ARCH_S390X", ScmpArch::S390X),
    ("SCMP_ARCH_PARISC", ScmpArch::Parisc),
    ("SCMP_ARCH_PARISC64", ScmpArch::Parisc64),
    ("SCMP_ARCH_RISCV64", ScmpArch::Riscv64),
];

/// Filter flags: OCI name → `SECCOMP_FILTER_FLAG_*` bit.
const FLAGS: &[(&str, u32)] = &[
    (
        "SECCOMP_FILTER_FLAG_TSYNC",
        hull_sys::seccomp::FILTER_FLAG_TSYNC,
    ),
    (
        "SECCOMP_FILTER_FLAG_LOG",
        hull_sys::seccomp::FILTER_FLAG_LOG,
    ),
    (
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        hull_sys::seccomp::FILTER_FLAG_SPEC_ALLOW,
    ),
];

/// An OCI action name with its optional `errnoRet`, which is the errno for `SCMP_ACT_ERRNO` and
/// the tracer's message for `SCMP_ACT_TRACE`; both default to EPERM, as in runc.
pub(super) fn action(name: &str, errno_ret: Option<u32>) -> Result<ScmpAction, SeccompError> {
    let ret = |default: u32| -> Result<u16, SeccompError> {
        let v = errno_ret.unwrap_or(default);
        u16::try_from(v).map_err(|_| SeccompError::ErrnoRange(v, name.to_string()))
    };
    Ok(match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(i32::from(ret(DEFAULT_ERRNO)?)),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(ret(DEFAULT_ERRNO)?),
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        _ => return Err(SeccompError::UnknownAction(name.to_string())),
    })
}

pub(super) fn arch(name: &str) -> Result<ScmpArch, SeccompError> {
    ARCHES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .ok_or_else(|| SeccompError::UnknownArch(name.to_string()))
}

pub(super) fn flag(name: &str) -> Result<u32, SeccompError> {
    FLAGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bit)| *bit)
        .ok_or_else(|| SeccompError::UnknownFlag(name.to_string()))
}

/// One argument comparison. For `SCMP_CMP_MASKED_EQ` the OCI `value` is the mask and `valueTwo`
/// the expected result of `arg & mask`; every other operator compares against `value`.
pub(super) fn condition(arg: &SeccompArg) -> Result<ScmpArgCompare, SeccompError> {
    let (op, datum) = match arg.op.as_str() {
        "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, arg.value),
        "SCMP_CMP_LT" => (ScmpCompareOp::Less, arg.value),
        "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, arg.value),
        "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, arg.value),
        "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, arg.value),
        "SCMP_CMP_GT" => (ScmpCompareOp::Greater, arg.value),
        "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(arg.value), arg.value_two),
        other => return Err(SeccompError::UnknownOp(other.to_string())),
    };
    Ok(ScmpArgCompare::new(arg.index, op, datum))
}
