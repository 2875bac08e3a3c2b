//! ONBUILD triggers, as Docker fires them: a stage whose base (an image or an earlier stage)
//! carries `OnBuild` in its config runs each trigger first, in order, as a step of its own, and
//! the triggers do not pass on: the stage's image has none (so a grandchild does not fire them
//! again).

use std::collections::BTreeMap;

use hull_oci::image::ImageConfig;
use serde_json::Value;

use super::{fail, BuildError, Builder, Current};
use crate::dockerfile::{Dockerfile, Instruction};

impl Builder<'_> {
    /// Runs `cur`'s triggers (each through the step cache) after FROM at `line`, and returns the
    /// stage's start with the triggers cleared.
    pub(super) fn fire_triggers(
        &mut self,
        file: &Dockerfile,
        mut cur: Current,
        line: usize,
    ) -> Result<Current, BuildError> {
        let triggers = take_triggers(&mut cur.config);
        if triggers.is_empty() {
            return Ok(cur);
        }
        if !self.opts.quiet {
            let s = if triggers.len() == 1 { "" } else { "s" };
            self.progress
                .line(&format!("# Executing {} build trigger{s}", triggers.len()));
        }
        let args = BTreeMap::new();
        for text in triggers {
            let ins = parse_trigger(&text, line)?;
            self.trigger_text = Some(text);
            let done = self.cached_step(file, cur, &ins, line, &args);
            self.trigger_text = None;
            cur = done?;
        }
        Ok(cur)
    }
}

/// Removes the config's `OnBuild` list and returns it (strings only).
fn take_triggers(config: &mut ImageConfig) -> Vec<String> {
    let Some(c) = config.config.as_mut() else {
        return Vec::new();
    };
    match c.extra.remove("OnBuild") {
        Some(Value::Array(list)) => list
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// One stored trigger (`RUN make`, a heredoc with its body) parsed as the instruction it is.
fn parse_trigger(text: &str, line: usize) -> Result<Instruction, BuildError> {
    let bad = |why: String| {
        fail(format!(
            "ONBUILD trigger {text:?} of the base image (Dockerfile:{line}): {why}"
        ))
    };
    let file = crate::dockerfile::parse("ONBUILD", &format!("FROM scratch\n{text}\n"))
        .map_err(|e| bad(e.to_string()))?;
    match file.stages.as_slice() {
        [stage] if stage.instructions.len() == 1 => {
            let ins = stage.instructions[0].value.clone();
            if matches!(
                ins,
                Instruction::Onbuild { .. } | Instruction::Maintainer(_)
            ) {
                return Err(bad(format!("{} isn't allowed as a trigger", ins.keyword())));
            }
            Ok(ins)
        }
        _ => Err(bad("not one instruction".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(onbuild: Value) -> ImageConfig {
        let mut c: ImageConfig = serde_json::from_value(serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"OnBuild": onbuild, "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        c.history.clear();
        c
    }

    #[test]
    fn triggers_are_taken_out_of_the_config() {
        let mut c = config_with(serde_json::json!(["RUN make", "COPY . /src"]));
        assert_eq!(take_triggers(&mut c), vec!["RUN make", "COPY . /src"]);
        assert!(!c.config.as_ref().unwrap().extra.contains_key("OnBuild"));
        assert!(take_triggers(&mut c).is_empty());
        let mut none = config_with(Value::Null);
        assert!(take_triggers(&mut none).is_empty());
    }

    #[test]
    fn a_trigger_parses_as_its_instruction() {
        assert_eq!(parse_trigger("RUN make", 3).unwrap().keyword(), "RUN");
        assert_eq!(parse_trigger("copy . /src", 3).unwrap().keyword(), "COPY");
        let heredoc = parse_trigger("RUN <<EOF\necho hi\nEOF", 3).unwrap();
        assert_eq!(heredoc.keyword(), "RUN");
    }

    #[test]
    fn a_bad_stored_trigger_names_itself_and_the_from_line() {
        let e = parse_trigger("FROM other", 4).unwrap_err().message;
        assert!(e.contains("ONBUILD trigger \"FROM other\""), "{e}");
        assert!(e.contains("Dockerfile:4"), "{e}");
        let e = parse_trigger("BOGUS x", 4).unwrap_err().message;
        assert!(e.contains("unknown instruction"), "{e}");
        let e = parse_trigger("ONBUILD RUN x", 4).unwrap_err().message;
        assert!(e.contains("isn't allowed"), "{e}");
    }
}
