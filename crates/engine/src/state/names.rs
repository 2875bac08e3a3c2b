//! Container IDs (64 random hex characters) and Docker-style generated names (`adjective_noun`).

use std::io::Read;

/// Random bytes from the kernel.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

/// A new container ID: 32 random bytes as 64 hex characters. Docker rerolls an all-numeric
/// short ID (it would read as a number); so do we.
pub fn new_id() -> std::io::Result<String> {
    loop {
        let id = hex::encode(random_bytes::<32>()?);
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

const ADJECTIVES: [&str; 32] = [
    "admiring",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "blissful",
    "bold",
    "brave",
    "busy",
    "charming",
    "clever",
    "cool",
    "compassionate",
    "competent",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elegant",
    "epic",
    "festive",
    "focused",
    "friendly",
    "gallant",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "laughing",
    "modest",
    "quirky",
    "vibrant",
];

const NOUNS: [&str; 32] = [
    "albattani",
    "banach",
    "bohr",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "fermat",
    "feynman",
    "galileo",
    "gauss",
    "hopper",
    "hypatia",
    "kepler",
    "knuth",
    "lamport",
    "liskov",
    "lovelace",
    "maxwell",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
    "wozniak",
    "wright",
    "yonath",
];

/// A name built from two random bytes; after `attempt` collisions a number is appended, as
/// Docker's namesgenerator does on retry.
pub fn generate_name(seed: [u8; 2], attempt: u32) -> String {
    let adjective = ADJECTIVES[seed[0] as usize % ADJECTIVES.len()];
    let noun = NOUNS[seed[1] as usize % NOUNS.len()];
    if attempt == 0 {
        format!("{adjective}_{noun}")
    } else {
        format!("{adjective}_{noun}{attempt}")
    }
}

/// Picks a generated name that `taken` rejects not.
pub fn unique_name(taken: impl Fn(&str) -> bool) -> std::io::Result<String> {
    for attempt in 0.. {
        let name = generate_name(random_bytes::<2>()?, attempt / 4);
        if !taken(&name) {
            return Ok(name);
        }
    }
    unreachable!("the attempt counter is unbounded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn names_look_like_dockers() {
        assert_eq!(generate_name([0, 0], 0), "admiring_albattani");
        assert_eq!(generate_name([1, 2], 3), "agitated_bohr3");
        let n = unique_name(|_| false).unwrap();
        assert!(n.contains('_'));
    }

    #[test]
    fn unique_name_skips_taken_names() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let n = unique_name(|c| seen.contains(c)).unwrap();
            assert!(seen.insert(n));
        }
    }
}
