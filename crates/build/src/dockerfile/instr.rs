//! One logical line → one instruction (or a FROM), per Docker's reference.

use super::ast::{
    ArgDecl, Command, Copy, CopyFlags, HealthFlags, Healthcheck, Instruction, KeyValue, Run,
    RunFlags, Source,
};
use super::duration::parse_go_duration;
use super::error::Problem;
use super::heredoc::{self, Bodies};
use super::words::{json_strings, raw_words, take_flags, Flag};

/// What a line parses to: a FROM starts a stage, anything else is an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Instr(Instruction),
}

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "ARG",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "USER",
    "WORKDIR",
    "COPY",
    "ADD",
    "SHELL",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "ONBUILD",
    "MAINTAINER",
];

/// Splits a logical line into its keyword (upper-cased) and arguments.
pub(crate) fn split_keyword(text: &str) -> (String, &str) {
    let text = text.trim();
    let n = text.find(char::is_whitespace).unwrap_or(text.len());
    (text[..n].to_ascii_uppercase(), &text[n..])
}

/// Parses one instruction; `bodies` supplies heredoc bodies from the following lines.
pub(crate) fn parse(
    kw: &str,
    args: &str,
    escape: char,
    bodies: Bodies<'_>,
) -> Result<Item, Problem> {
    if !KEYWORDS.contains(&kw) {
        return Err(format!("unknown instruction: {kw}"));
    }
    let (flags, rest) = take_flags(args, escape);
    let rest = rest.trim_end();
    let instr = match kw {
        "FROM" => return from(&flags, rest, escape),
        "RUN" => Instruction::Run(run(&flags, rest, escape, bodies)?),
        "COPY" | "ADD" => copy(kw, &flags, rest, escape, bodies)?,
        "HEALTHCHECK" => Instruction::Healthcheck(healthcheck(&flags, rest)?),
        "ONBUILD" if flags.is_empty() => onbuild(rest, escape, bodies)?,
        _ => {
            if let Some(f) = flags.first() {
                return Err(f.unknown(kw));
            }
            plain(kw, rest, escape)?
        }
    };
    Ok(Item::Instr(instr))
}

/// The instructions without flags.
fn plain(kw: &str, rest: &str, escape: char) -> Result<Instruction, Problem> {
    Ok(match kw {
        "CMD" => Instruction::Cmd(command(rest)),
        "ENTRYPOINT" => Instruction::Entrypoint(command(rest)),
        "ENV" => Instruction::Env(key_values(kw, rest, escape)?),
        "LABEL" => Instruction::Label(key_values(kw, rest, escape)?),
        "ARG" => Instruction::Arg(args(rest, escape)?),
        "EXPOSE" => Instruction::Expose(at_least_one(kw, raw_words(rest, escape))?),
        "VOLUME" => Instruction::Volume(volume(rest, escape)?),
        "USER" => Instruction::User(one(kw, rest)?),
        "WORKDIR" => Instruction::Workdir(one(kw, rest)?),
        "STOPSIGNAL" => Instruction::StopSignal(one(kw, rest)?),
        "MAINTAINER" => Instruction::Maintainer(one(kw, rest)?),
        "SHELL" => Instruction::Shell(shell(rest)?),
        _ => unreachable!("{kw} is handled by parse"),
    })
}

/// Exec form when the text is exactly a JSON string array, else shell form.
fn command(rest: &str) -> Command {
    match json_strings(rest) {
        Some(argv) => Command::Exec(argv),
        None => Command::Shell(rest.to_string()),
    }
}

fn one(kw: &str, rest: &str) -> Result<String, Problem> {
    if rest.is_empty() {
        return Err(format!("{kw} requires exactly one argument"));
    }
    Ok(rest.to_string())
}

fn at_least_one(kw: &str, words: Vec<String>) -> Result<Vec<String>, Problem> {
    if words.is_empty() {
        return Err(format!("{kw} requires at least one argument"));
    }
    Ok(words)
}

fn from(flags: &[Flag], rest: &str, escape: char) -> Result<Item, Problem> {
    let mut platform = None;
    for f in flags {
        match f.name.as_str() {
            "platform" => platform = Some(f.string("FROM")?),
            _ => return Err(f.unknown("FROM")),
        }
    }
    let words = raw_words(rest, escape);
    let name = match words.as_slice() {
        [_] => None,
        [_, r#as, name] if r#as.eq_ignore_ascii_case("as") => Some(stage_name(name)?),
        _ => return Err("FROM requires either one or three arguments".to_string()),
    };
    Ok(Item::From {
        image: words[0].clone(),
        name,
        platform,
    })
}

/// A stage name, lower-cased: a letter, then letters, digits, `-`, `_` or `.`.
fn stage_name(name: &str) -> Result<String, Problem> {
    let lower = name.to_ascii_lowercase();
    let mut chars = lower.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !ok {
        return Err(format!(
            "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
        ));
    }
    Ok(lower)
}

fn run(flags: &[Flag], rest: &str, escape: char, bodies: Bodies<'_>) -> Result<Run, Problem> {
    let mut rf = RunFlags::default();
    for f in flags {
        match f.name.as_str() {
            "mount" => {
                let spec = f.string("RUN")?;
                // A spec with a variable is checked after substitution, by the executor.
                if !spec.contains('$') {
                    super::mount::parse_mount(&spec)
                        .map_err(|e| format!("RUN --mount={spec}: {e}"))?;
                }
                rf.mounts.push(spec)
            }
            "network" => rf.network = Some(f.string("RUN")?),
            "security" => {
                let v = f.string("RUN")?;
                if v != "sandbox" {
                    return Err(format!(
                        "RUN --security={v}: not supported (hull runs build steps sandboxed only)"
                    ));
                }
                rf.security = Some(v)
            }
            _ => return Err(f.unknown("RUN")),
        }
    }
    if rest.is_empty() {
        return Err("RUN requires at least one argument".to_string());
    }
    let command = command(rest);
    let mut heredocs = Vec::new();
    if matches!(command, Command::Shell(_)) {
        for word in raw_words(rest, escape) {
            heredocs.extend(heredoc::read(&word, bodies)?);
        }
    }
    Ok(Run {
        flags: rf,
        command,
        heredocs,
    })
}

fn copy_flags(kw: &str, flags: &[Flag]) -> Result<CopyFlags, Problem> {
    let mut cf = CopyFlags::default();
    let add = kw == "ADD";
    for f in flags {
        match f.name.as_str() {
            "from" => cf.from = Some(f.string(kw)?),
            "chown" => cf.chown = Some(f.string(kw)?),
            "chmod" => cf.chmod = Some(f.string(kw)?),
            "link" => cf.link = f.boolean(kw)?,
            "parents" => cf.parents = f.boolean(kw)?,
            "exclude" => cf.exclude.push(f.string(kw)?),
            "checksum" if add => cf.checksum = Some(f.string(kw)?),
            "keep-git-dir" if add => cf.keep_git_dir = f.boolean(kw)?,
            "unpack" if add => cf.unpack = Some(f.string(kw)?),
            _ => return Err(f.unknown(kw)),
        }
    }
    Ok(cf)
}

fn copy(
    kw: &str,
    flags: &[Flag],
    rest: &str,
    escape: char,
    bodies: Bodies<'_>,
) -> Result<Instruction, Problem> {
    let flags = copy_flags(kw, flags)?;
    let (mut words, json) = match json_strings(rest) {
        Some(words) => (words, true),
        None => (raw_words(rest, escape), false),
    };
    if words.len() < 2 {
        return Err(format!("{kw} requires at least two arguments"));
    }
    let dest = words.pop().unwrap_or_default();
    if !json && heredoc::is_marker(&dest) {
        return Err(format!("{kw} cannot take a heredoc as its destination"));
    }
    let mut sources = Vec::new();
    for word in words {
        let doc = if json {
            None
        } else {
            heredoc::read(&word, bodies)?
        };
        sources.push(doc.map_or(Source::Path(word), Source::Heredoc));
    }
    let c = Copy {
        flags,
        sources,
        dest,
        json,
    };
    Ok(if kw == "ADD" {
        Instruction::Add(c)
    } else {
        Instruction::Copy(c)
    })
}

/// ENV and LABEL: `K=V …`, or the legacy `K V` (the value is the rest of the line).
fn key_values(kw: &str, rest: &str, escape: char) -> Result<Vec<KeyValue>, Problem> {
    let words = at_least_one(kw, raw_words(rest, escape))?;
    if !words[0].contains('=') {
        let (key, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{kw} must have two arguments"));
        }
        let (key, value) = (key.to_string(), value.to_string());
        return Ok(vec![KeyValue { key, value }]);
    }
    let mut pairs = Vec::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!(
                "syntax error: can't find = in {word:?}, it must be of the form name=value"
            ));
        };
        if key.is_empty() {
            return Err(format!("{kw} names can not be blank"));
        }
        let (key, value) = (key.to_string(), value.to_string());
        pairs.push(KeyValue { key, value });
    }
    Ok(pairs)
}

fn args(rest: &str, escape: char) -> Result<Vec<ArgDecl>, Problem> {
    let words = at_least_one("ARG", raw_words(rest, escape))?;
    let mut decls = Vec::new();
    for word in words {
        let (name, default) = match word.split_once('=') {
            Some((n, d)) => (n.to_string(), Some(d.to_string())),
            None => (word, None),
        };
        if name.is_empty() {
            return Err("ARG names can not be blank".to_string());
        }
        decls.push(ArgDecl { name, default });
    }
    Ok(decls)
}

fn volume(rest: &str, escape: char) -> Result<Vec<String>, Problem> {
    let list = json_strings(rest).unwrap_or_else(|| raw_words(rest, escape));
    let list = at_least_one("VOLUME", list)?;
    if list.iter().any(|v| v.trim().is_empty()) {
        return Err("VOLUME specified can not be an empty string".to_string());
    }
    Ok(list)
}

fn shell(rest: &str) -> Result<Vec<String>, Problem> {
    let argv = json_strings(rest)
        .ok_or_else(|| "SHELL requires the arguments to be in JSON form".to_string())?;
    at_least_one("SHELL", argv)
}

fn health_flags(flags: &[Flag]) -> Result<HealthFlags, Problem> {
    let mut hf = HealthFlags::default();
    for f in flags {
        let v = Some(health_value(f)?);
        match f.name.as_str() {
            "interval" => hf.interval = v,
            "timeout" => hf.timeout = v,
            "start-period" => hf.start_period = v,
            "start-interval" => hf.start_interval = v,
            "retries" => hf.retries = v,
            _ => return Err(f.unknown("HEALTHCHECK")),
        }
    }
    Ok(hf)
}

/// A HEALTHCHECK flag's value, checked: durations as Go writes them (0 or at least 1ms),
/// retries a non-negative integer.
fn health_value(f: &Flag) -> Result<String, Problem> {
    let v = f.string("HEALTHCHECK")?;
    let ok = match f.name.as_str() {
        "retries" => v.parse::<u32>().is_ok(),
        "interval" | "timeout" | "start-period" | "start-interval" => parse_go_duration(&v)
            .is_some_and(|d| d.is_zero() || d >= std::time::Duration::from_millis(1)),
        _ => return Err(f.unknown("HEALTHCHECK")),
    };
    match ok {
        true => Ok(v),
        false => Err(format!(
            "HEALTHCHECK flag --{}: invalid value {v:?}",
            f.name
        )),
    }
}

fn healthcheck(flags: &[Flag], rest: &str) -> Result<Healthcheck, Problem> {
    let flags = health_flags(flags)?;
    let (kind, cmd) = split_keyword(rest);
    match kind.as_str() {
        "" => Err("HEALTHCHECK requires at least one argument".to_string()),
        "NONE" if cmd.trim().is_empty() && flags == HealthFlags::default() => Ok(Healthcheck::None),
        "NONE" => Err("HEALTHCHECK NONE takes no arguments".to_string()),
        "CMD" if cmd.trim().is_empty() => Err("HEALTHCHECK CMD requires a command".to_string()),
        "CMD" => Ok(Healthcheck::Check {
            flags,
            command: command(cmd.trim()),
        }),
        other => Err(format!("unknown type {other:?} in HEALTHCHECK (try CMD)")),
    }
}

/// ONBUILD: the trigger parsed (heredocs included, as BuildKit allows) and its text as written,
/// heredoc bodies and delimiters appended so the stored trigger parses the same again.
fn onbuild(rest: &str, escape: char, bodies: Bodies<'_>) -> Result<Instruction, Problem> {
    let (kw, args) = split_keyword(rest);
    match kw.as_str() {
        "" => return Err("ONBUILD requires at least one argument".to_string()),
        "ONBUILD" => return Err("ONBUILD ONBUILD isn't allowed".to_string()),
        "FROM" | "MAINTAINER" => return Err(format!("{kw} isn't allowed as an ONBUILD trigger")),
        _ => {}
    }
    let mut text = rest.to_string();
    let mut recording = |name: &str, strip: bool| {
        let body = bodies(name, strip)?;
        text.push_str(&format!("\n{body}{name}"));
        Some(body)
    };
    let Item::Instr(trigger) = parse(&kw, args, escape, &mut recording)? else {
        unreachable!("FROM was refused above");
    };
    Ok(Instruction::Onbuild {
        text,
        trigger: Box::new(trigger),
    })
}
