//! eBPF: an instruction builder plus the two `bpf(2)` commands the v2 device cgroup needs
//! (`BPF_PROG_LOAD` and `BPF_PROG_ATTACH`). Mechanism only: which instructions to emit for a
//! device allow-list is policy and lives in the runtime crate.
//!
//! Encoding (include/uapi/linux/bpf.h, Documentation/bpf/standardization/instruction-set.rst):
//! every instruction is 8 bytes, `code:u8 | dst:4 src:4 | off:i16 | imm:i32` (little endian, so
//! `dst` is the low nibble). `code` is `operation | source | class`:
//!
//! | class        | value | | ALU op | value | | JMP op | value | | size/mode   | value |
//! |--------------|-------|-|--------|-------|-|--------|-------|-|-------------|-------|
//! | `BPF_LDX`    | 0x01  | | `AND`  | 0x50  | | `JEQ`  | 0x10  | | `BPF_W`     | 0x00  |
//! | `BPF_ALU`    | 0x04  | | `RSH`  | 0x70  | | `JNE`  | 0x50  | | `BPF_MEM`   | 0x60  |
//! | `BPF_JMP`    | 0x05  | | `MOV`  | 0xb0  | | `EXIT` | 0x90  | | `BPF_K`=imm | 0x00  |
//! |              |       | |        |       | |        |       | | `BPF_X`=reg | 0x08  |
//!
//! Jump offsets count instructions from the one *after* the jump.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

// Instruction classes.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04; // 32-bit ALU: results are zero-extended into the 64-bit register
const BPF_JMP: u8 = 0x05; // 64-bit compares
                          // Sizes and modes for loads.
const BPF_W: u8 = 0x00; // 4 bytes
const BPF_MEM: u8 = 0x60; // *(size *)(src + off)
                          // Operand source.
const BPF_K: u8 = 0x00; // the 32-bit immediate
const BPF_X: u8 = 0x08; // the source register
                        // ALU operations.
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
// Jump operations.
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

// bpf(2) commands.
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;

/// Program types this crate can load (`enum bpf_prog_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ProgType {
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`: runs on every device access (open, mknod) by a task in the
    /// cgroup; its context is `struct bpf_cgroup_dev_ctx` and it returns 1 (allow) or 0 (deny).
    CgroupDevice = 15,
}

/// Attach points (`enum bpf_attach_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum AttachType {
    /// `BPF_CGROUP_DEVICE`.
    CgroupDevice = 6,
}

/// `BPF_F_ALLOW_MULTI`: several programs may be attached to the cgroup; all of them (and those
/// of the ancestors) must allow an access. Lets a nested runtime add its own filter.
pub const F_ALLOW_MULTI: u32 = 1 << 1;

/// Offsets into `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`.
pub mod dev_ctx {
    /// `access_type`: the device type in the low 16 bits, the access bits in the high 16.
    pub const ACCESS_TYPE: i16 = 0;
    /// `major`.
    pub const MAJOR: i16 = 4;
    /// `minor`.
    pub const MINOR: i16 = 8;
    /// `BPF_DEVCG_DEV_BLOCK`.
    pub const DEV_BLOCK: i32 = 1;
    /// `BPF_DEVCG_DEV_CHAR`.
    pub const DEV_CHAR: i32 = 2;
    /// `BPF_DEVCG_ACC_MKNOD`.
    pub const ACC_MKNOD: i32 = 1;
    /// `BPF_DEVCG_ACC_READ`.
    pub const ACC_READ: i32 = 2;
    /// `BPF_DEVCG_ACC_WRITE`.
    pub const ACC_WRITE: i32 = 4;
}

/// An eBPF register. `R0` holds the return value, `R1` the context pointer on entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
}

/// One `struct bpf_insn`, laid out exactly as the kernel reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// `operation | source | class`.
    pub code: u8,
    /// `dst` in the low nibble, `src` in the high nibble.
    pub regs: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate operand.
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src as u8) << 4 | dst as u8,
            off,
            imm,
        }
    }

    /// `dst = *(u32 *)(src + off)`.
    pub const fn load_u32(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
    }

    /// `dst = (u32) imm`.
    pub const fn mov32_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(BPF_ALU | BPF_K | BPF_MOV, dst, Reg::R0, 0, imm)
    }

    /// `dst = (u32) src`.
    pub const fn mov32_reg(dst: Reg, src: Reg) -> Insn {
        Insn::new(BPF_ALU | BPF_X | BPF_MOV, dst, src, 0, 0)
    }

    /// `dst &= (u32) imm`.
    pub const fn and32_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(BPF_ALU | BPF_K | BPF_AND, dst, Reg::R0, 0, imm)
    }

    /// `dst >>= imm` (logical, 32-bit).
    pub const fn rsh32_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(BPF_ALU | BPF_K | BPF_RSH, dst, Reg::R0, 0, imm)
    }

    /// `if dst != imm { pc += off }`.
    pub const fn jne_imm(dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_K | BPF_JNE, dst, Reg::R0, off, imm)
    }

    /// `if dst == imm { pc += off }`.
    pub const fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_K | BPF_JEQ, dst, Reg::R0, off, imm)
    }

    /// `if dst != src { pc += off }`.
    pub const fn jne_reg(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(BPF_JMP | BPF_X | BPF_JNE, dst, src, off, 0)
    }

    /// `return R0`.
    pub const fn exit() -> Insn {
        Insn::new(BPF_JMP | BPF_EXIT, Reg::R0, Reg::R0, 0, 0)
    }
}

/// The `BPF_PROG_LOAD` member of `union bpf_attr`, up to `expected_attach_type`. The kernel
/// accepts a shorter attr than its own and zero-fills the rest. No padding (see the size check
/// below): every byte the kernel reads is a named field.
#[repr(C, align(8))]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` member of `union bpf_attr` as of Linux 6.6, which added
/// `relative_fd` and `expected_revision`. Every byte must be a named (so zeroed) field: Rust
/// leaves padding uninitialised, and the kernel reads the bytes at offset 20 as `relative_fd`
/// and refuses a cgroup attach with EINVAL when they are not zero. Older kernels check that the
/// bytes past their own, shorter attr are zero, which these are.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    relative_fd: u32,
    expected_revision: u64,
}

// No implicit padding in either attr: the sizes are the sums of the fields.
const _: () = assert!(std::mem::size_of::<ProgAttachAttr>() == 6 * 4 + 8);
const _: () =
    assert!(std::mem::size_of::<ProgLoadAttr>() == 4 * 2 + 8 * 2 + 4 * 2 + 8 + 4 * 2 + 16 + 4 * 2);

/// The one place a raw `bpf(2)` return value becomes an `io::Result`.
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is an exclusively borrowed, initialised `#[repr(C)]` prefix of `union
    // bpf_attr` for `cmd` without padding (so every byte the kernel reads is initialised), and the size passed is exactly its size, so the kernel reads and
    // writes only inside it. Pointers stored in it (instructions, license, log buffer) are
    // borrowed by the caller for the duration of this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Loads `insns` as a program of type `kind`, returning its fd. On rejection the error carries
/// the verifier's log, which says which instruction it refused and why.
pub fn prog_load(kind: ProgType, insns: &[Insn], license: &CStr) -> io::Result<OwnedFd> {
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = ProgLoadAttr {
        prog_type: kind as u32,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many instructions"))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    let fd = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => fd,
        Err(first) => {
            // Load again with the verifier log on, only to explain the failure.
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            return Err(io::Error::new(
                first.kind(),
                format!("{first}; verifier log: {}", text.trim()),
            ));
        }
    };
    // SAFETY: a successful BPF_PROG_LOAD returns a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Attaches program `prog` to `target` (for cgroup programs, an fd of the cgroup directory).
pub fn prog_attach(
    prog: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    kind: AttachType,
    flags: u32,
) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: target.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: kind as u32,
        attach_flags: flags,
        ..ProgAttachAttr::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }

    #[test]
    fn encodings_match_the_kernel_headers() {
        // code = op | source | class, from the table in the module docs.
        assert_eq!(
            Insn::load_u32(Reg::R2, Reg::R1, 4),
            Insn {
                code: 0x61,
                regs: 0x12,
                off: 4,
                imm: 0
            }
        );
        assert_eq!(Insn::mov32_imm(Reg::R0, 1).code, 0xb4);
        assert_eq!(Insn::mov32_reg(Reg::R1, Reg::R3).code, 0xbc);
        assert_eq!(Insn::mov32_reg(Reg::R1, Reg::R3).regs, 0x31);
        assert_eq!(Insn::and32_imm(Reg::R2, 0xffff).code, 0x54);
        assert_eq!(Insn::rsh32_imm(Reg::R3, 16).code, 0x74);
        assert_eq!(Insn::jne_imm(Reg::R2, 2, 3).code, 0x55);
        assert_eq!(Insn::jeq_imm(Reg::R1, 0, 3).code, 0x15);
        assert_eq!(Insn::jne_reg(Reg::R1, Reg::R3, 3).code, 0x5d);
        assert_eq!(Insn::exit().code, 0x95);
    }

    #[test]
    fn rejected_program_reports_verifier_log() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: bpf(2) needs root");
            return;
        }
        // Exit without setting R0: the verifier refuses to read an uninitialised register.
        let err = prog_load(ProgType::CgroupDevice, &[Insn::exit()], c"GPL").unwrap_err();
        assert!(err.to_string().contains("verifier log"), "{err}");
    }

    #[test]
    fn minimal_allow_program_loads() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: bpf(2) needs root");
            return;
        }
        let prog = [Insn::mov32_imm(Reg::R0, 1), Insn::exit()];
        prog_load(ProgType::CgroupDevice, &prog, c"GPL").unwrap();
    }
}
