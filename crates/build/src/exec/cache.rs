//! The step cache: (parent image, instruction, ARGs in scope, COPY sources' content) → image.
//!
//! An entry is a file `<store>/build-cache/<sha256 of the key>` holding the step's image ID,
//! written to a temp name and renamed (a crash leaves no half entry). A hit whose image is gone
//! (pruned) is a miss. The key leaves out mtimes, as Docker's does.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use hull_oci::Digest;
use serde_json::json;

use super::{fail, lookup_fn, BuildError, Builder, Current};
use crate::dockerfile::{Dockerfile, Instruction, Source};

impl Builder<'_> {
    fn cache_dir(&self) -> PathBuf {
        self.engine.images.root().join("build-cache")
    }

    /// The key of `ins` on top of `cur`, or None when the step cannot be cached.
    pub(super) fn cache_key(
        &self,
        file: &Dockerfile,
        cur: &Current,
        ins: &Instruction,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<Option<String>, BuildError> {
        if self.opts.no_cache {
            return Ok(None);
        }
        let parent = cur.id.as_ref().map(|d| d.to_string()).unwrap_or_default();
        let extra = match ins {
            Instruction::Copy(c) | Instruction::Add(c) => match &c.flags.from {
                Some(f) => {
                    let lookup = lookup_fn(cur, args);
                    let name = self.expand(f, &lookup, line)?;
                    let id = match super::stage_by_name(file, &name).and_then(|i| self.done.get(&i))
                    {
                        Some(s) => s.id.clone(),
                        None => self.engine.images.resolve(&name).ok().map(|r| r.id),
                    };
                    match id {
                        Some(id) => id.to_string(),
                        None => return Ok(None),
                    }
                }
                None => self.sources_checksum(cur, c, ins.keyword(), line, args)?,
            },
            Instruction::Run(r) if !r.flags.mounts.is_empty() => {
                super::mounts::cache_extra(self, file, cur, r, line, args)?
            }
            _ => String::new(),
        };
        let key = json!({
            "parent": parent,
            "instruction": ins,
            "args": args,
            "extra": extra,
            "escape": self.escape.to_string(),
        });
        Ok(Some(
            Digest::sha256_of(key.to_string().as_bytes())
                .hex()
                .to_string(),
        ))
    }

    fn sources_checksum(
        &self,
        cur: &Current,
        c: &crate::dockerfile::Copy,
        kw: &str,
        line: usize,
        args: &BTreeMap<String, String>,
    ) -> Result<String, BuildError> {
        let lookup = lookup_fn(cur, args);
        let mut patterns = Vec::new();
        for s in &c.sources {
            if let Source::Path(p) = s {
                patterns.push(self.expand(p, &lookup, line)?);
            }
        }
        // URLs by the digest of what they serve now (fetched once, reused by the step).
        let (urls, patterns) = self.urls_of(c, kw, patterns, line)?;
        let mut fetched = String::new();
        for u in &urls {
            let d = self.download(u, c.flags.checksum.as_deref(), kw, line)?;
            fetched.push_str(&format!("{u}={};", d.digest));
        }
        if patterns.is_empty() {
            return Ok(fetched);
        }
        let at = |e: crate::context::ContextError| fail(format!("{kw} (Dockerfile:{line}): {e}"));
        let paths = self.context.resolve_sources_as(kw, &patterns).map_err(at)?;
        let local = self.context.checksum(&paths).map_err(at)?;
        Ok(format!("{fetched}{local}"))
    }

    /// The cached step's image, if there is one and it is still in the store.
    pub(super) fn cache_get(&self, key: &str) -> Option<Current> {
        let id = fs::read_to_string(self.cache_dir().join(key)).ok()?;
        let record = self.engine.images.resolve(id.trim()).ok()?;
        let config = self.engine.images.config(&record.id).ok()?;
        Some(Current {
            id: Some(record.id),
            layers: record.layers,
            config,
        })
    }

    /// Records `id` under `key` (best effort: a cache that cannot be written only costs time).
    pub(super) fn cache_put(&self, key: &str, id: &Digest) {
        let dir = self.cache_dir();
        if fs::create_dir_all(&dir).is_err() {
            return;
        }
        // A temp file of its own (stages on threads may put the same key at once), renamed
        // into place: a reader sees the whole ID or nothing.
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(&dir) else {
            return;
        };
        if std::io::Write::write_all(&mut tmp, id.to_string().as_bytes()).is_ok() {
            let _ = tmp.persist(dir.join(key));
        }
    }
}
