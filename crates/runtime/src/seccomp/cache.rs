//! A cache of compiled filters: `<dir>/<key>.bpf`, where the key hashes everything the compiled
//! program depends on (the profile, the libseccomp version, the kernel release and the
//! architecture). libseccomp takes ~10 ms of CPU to build Docker's ~350-rule profile; reading
//! the cached program back takes microseconds.
//!
//! The cache is only an optimisation: any failure to read or write it falls back to compiling.
//! A file is `MAGIC, flags (u32 LE), SHA-256 of the program, program`; a file whose digest does
//! not match (torn by a crash: entries are written to a temp name and renamed, without fsync)
//! is ignored and rewritten, so a damaged entry can never be loaded as a filter.

use std::io::Write;
use std::path::{Path, PathBuf};

use hull_oci::runtime::Seccomp;
use sha2::{Digest, Sha256};

use super::{Filter, SeccompError};

const MAGIC: &[u8; 8] = b"HULLBPF1";
const HEADER: usize = MAGIC.len() + 4 + 32;

/// Returns the compiled filter for `spec` from the cache in `dir`, compiling (and storing) it
/// on a miss.
pub fn compile_cached(spec: &Seccomp, dir: &Path) -> Result<Filter, SeccompError> {
    let Some(path) = entry_path(spec, dir) else {
        return super::compile(spec);
    };
    if let Some(filter) = read_entry(&path) {
        return Ok(filter);
    }
    let filter = super::compile(spec)?;
    let _ = write_entry(&path, &filter);
    Ok(filter)
}

/// `<dir>/<hex key>.bpf`, or None when the inputs of the key cannot be determined.
fn entry_path(spec: &Seccomp, dir: &Path) -> Option<PathBuf> {
    let profile = serde_json::to_vec(spec).ok()?;
    let lib = libseccomp::ScmpVersion::current().ok()?;
    let kernel = rustix::system::uname();
    let mut h = Sha256::new();
    h.update(b"hull seccomp cache v1\0");
    h.update(format!(
        "libseccomp {}.{}.{}\0",
        lib.major, lib.minor, lib.micro
    ));
    h.update(kernel.release().to_bytes());
    h.update(b"\0");
    h.update(std::env::consts::ARCH);
    h.update(b"\0");
    h.update(&profile);
    Some(dir.join(format!("{}.bpf", hex(&h.finalize()))))
}

fn read_entry(path: &Path) -> Option<Filter> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < HEADER || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let flags = u32::from_le_bytes(bytes[8..12].try_into().ok()?);
    let (digest, program) = (&bytes[12..HEADER], &bytes[HEADER..]);
    if program.is_empty() || program.len() % 8 != 0 || Sha256::digest(program)[..] != *digest {
        return None;
    }
    Some(Filter {
        program: super::decode_program(program),
        flags,
    })
}

fn write_entry(path: &Path, filter: &Filter) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let program = encode_program(filter);
    let mut bytes = Vec::with_capacity(HEADER + program.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&filter.flags.to_le_bytes());
    bytes.extend_from_slice(&Sha256::digest(&program));
    bytes.extend_from_slice(&program);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn encode_program(filter: &Filter) -> Vec<u8> {
    let mut out = Vec::with_capacity(filter.program.len() * 8);
    for i in &filter.program {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
