//! `--output`: the final image's file tree written out, as BuildKit's local and tar exporters
//! do: `type=local,dest=DIR` (or a bare `DIR`) copies it into DIR, `type=tar,dest=FILE` writes
//! one tar. The tree comes from a created (never started) container of the image, through the
//! same code as `hull cp` and `hull export`; the container is always removed.

use std::path::PathBuf;

use hull_engine::run::{RealHost, RunConfig, RunOptions};
use hull_engine::Engine;
use hull_oci::Digest;

use super::run::Removal;
use super::{fail, BuildError};

/// Where `--output` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Local(PathBuf),
    Tar(PathBuf),
}

impl std::str::FromStr for Output {
    type Err = BuildError;
    fn from_str(spec: &str) -> Result<Output, BuildError> {
        let bad = |why: &str| fail(format!("--output {spec:?}: {why}"));
        if !spec.contains('=') {
            return match spec {
                "" | "-" => Err(bad(
                    "a destination directory is needed (tar to stdout is not supported)",
                )),
                dir => Ok(Output::Local(dir.into())),
            };
        }
        let (mut kind, mut dest) = (None, None);
        for part in spec.split(',') {
            match part.split_once('=') {
                Some(("type", v)) => kind = Some(v),
                Some(("dest", v)) => dest = Some(v),
                _ => {
                    return Err(bad(&format!(
                        "unknown field {part:?} (type and dest are known)"
                    )))
                }
            }
        }
        let local = match kind {
            Some("local") => true,
            Some("tar") => false,
            Some(t) => return Err(bad(&format!("type {t:?}: local and tar are supported"))),
            None => return Err(bad("type=local or type=tar is needed")),
        };
        match dest {
            None | Some("") | Some("-") => Err(bad("dest=PATH is needed")),
            Some(d) if local => Ok(Output::Local(d.into())),
            Some(d) => Ok(Output::Tar(d.into())),
        }
    }
}

/// Writes the file tree of `image` to `out`.
pub fn write(engine: &Engine, image: &Digest, out: &Output) -> Result<(), BuildError> {
    let err = |e: &dyn std::fmt::Display| fail(format!("--output: {e}"));
    let opts = RunOptions {
        name: Some(format!("hull-build-{}-output", std::process::id())),
        entrypoint: Some(String::new()),
        image: image.to_string(),
        args: vec!["true".into()],
        network: Some("none".into()),
        ..RunOptions::default()
    };
    let config = RunConfig::from_options(&opts, &RealHost).map_err(|e| err(&e))?;
    let record = engine.create(config).map_err(|e| err(&e))?;
    let _guard = Removal {
        engine,
        id: record.id.clone(),
    };
    match out {
        Output::Local(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("--output: create {}: {e}", dir.display())))?;
            let copy = hull_engine::copy::Options {
                archive: true,
                follow_link: false,
            };
            let dest = dir.display().to_string();
            engine
                .copy_out(&record.id, "/.", &dest, std::io::sink(), copy)
                .map_err(|e| err(&e))
        }
        Output::Tar(file) => {
            let f = std::fs::File::create(file)
                .map_err(|e| fail(format!("--output: create {}: {e}", file.display())))?;
            let mut w = std::io::BufWriter::new(f);
            engine.export(&record.id, &mut w).map_err(|e| err(&e))?;
            std::io::Write::flush(&mut w)
                .map_err(|e| fail(format!("--output: write {}: {e}", file.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_buildkit_writes_them() {
        let p = |s: &str| s.parse::<Output>();
        assert_eq!(p("out").unwrap(), Output::Local("out".into()));
        assert_eq!(p("type=local,dest=d").unwrap(), Output::Local("d".into()));
        assert_eq!(
            p("dest=f.tar,type=tar").unwrap(),
            Output::Tar("f.tar".into())
        );
        for (bad, why) in [
            ("type=image", "local and tar"),
            ("type=tar", "dest=PATH"),
            ("type=local,dest=d,compression=gzip", "unknown field"),
            ("-", "not supported"),
            ("dest=d", "type=local or type=tar"),
        ] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--output {bad:?}: ")), "{e}");
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
