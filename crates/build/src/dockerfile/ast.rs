//! The parsed Dockerfile: directives, global ARGs and stages of located instructions.
//!
//! Values are kept as written (quotes, escapes and `$VAR`s included): the build executor runs
//! them through [`super::subst`] with the variables in scope at that step, for exactly the
//! instructions whose [`Instruction::expands_variables`] is true.

use serde::{Deserialize, Serialize};

/// Parser directives from the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directives {
    /// `# syntax=…`: recorded so the caller can note that hull uses its own parser.
    pub syntax: Option<String>,
    /// `# escape=…`: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# check=…`: recorded, otherwise ignored.
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dockerfile {
    pub directives: Directives,
    /// ARGs declared before the first FROM (usable in FROM lines).
    pub global_args: Vec<Located<ArgDecl>>,
    pub stages: Vec<Stage>,
}

/// One build stage: a FROM and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// `AS name`, lower-cased (stage names are case-insensitive).
    pub name: Option<String>,
    /// The base image or stage as written (not expanded).
    pub base: String,
    /// `--platform=` as written.
    pub platform: Option<String>,
    /// Line of the FROM.
    pub line: usize,
    pub instructions: Vec<Located<Instruction>>,
}

/// A value with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Located<T> {
    pub line: usize,
    pub value: T,
}

/// Exec form (a JSON string array) or shell form (the text as written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// A heredoc body (BuildKit's `<<EOF`), tabs already stripped for `<<-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heredoc {
    /// The delimiter word, quotes removed.
    pub name: String,
    /// The lines between the marker and the delimiter, each ending in `\n`.
    pub body: String,
    /// False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no substitution.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped from the body and delimiter lines.
    pub strip_tabs: bool,
    /// File descriptor prefix (`3<<EOF`), if any.
    pub fd: Option<u32>,
}

/// `KEY=VALUE` of ENV and LABEL, both raw (quotes kept for the substitution pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// `NAME[=default]` of ARG, the default raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// RUN's flags, values raw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFlags {
    /// `--mount=…`, in order (repeatable).
    pub mounts: Vec<String>,
    pub network: Option<String>,
    pub security: Option<String>,
}

/// RUN: the command as written plus the bodies of its heredocs (in marker order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub flags: RunFlags,
    pub command: Command,
    pub heredocs: Vec<Heredoc>,
}

/// Flags of COPY and ADD (ADD-only ones stay unset for COPY).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyFlags {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    /// ADD only.
    pub checksum: Option<String>,
    /// ADD only.
    pub keep_git_dir: bool,
    /// ADD only: `--unpack=BOOL` as written.
    pub unpack: Option<String>,
}

/// A COPY/ADD source: a path (raw) or an inline heredoc file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    Path(String),
    Heredoc(Heredoc),
}

/// COPY and ADD: sources and the destination (the last argument).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    pub flags: CopyFlags,
    pub sources: Vec<Source>,
    pub dest: String,
    /// Written as a JSON array.
    pub json: bool,
}

/// HEALTHCHECK's flags, values raw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthFlags {
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<String>,
}

/// HEALTHCHECK NONE or HEALTHCHECK [flags] CMD command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Healthcheck {
    None,
    Check {
        flags: HealthFlags,
        command: Command,
    },
}

/// One instruction (FROM is not one: it starts a [`Stage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Instruction {
    Run(Run),
    Cmd(Command),
    Entrypoint(Command),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Label(Vec<KeyValue>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Copy(Copy),
    Add(Copy),
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(Healthcheck),
    /// The trigger as written (stored in the image) and its parse.
    Onbuild {
        text: String,
        trigger: Box<Instruction>,
    },
    Maintainer(String),
}

impl Instruction {
    /// Whether the builder substitutes variables in this instruction's arguments, as Docker's
    /// reference lists them: ADD, COPY, ENV, EXPOSE, FROM (see [`Stage::base`]), LABEL,
    /// STOPSIGNAL, USER, VOLUME, WORKDIR. ARG defaults are expanded too (BuildKit does). RUN,
    /// CMD, ENTRYPOINT, SHELL, HEALTHCHECK and MAINTAINER are left to the shell or kept
    /// verbatim; ONBUILD triggers are stored verbatim and expanded when they fire.
    pub fn expands_variables(&self) -> bool {
        matches!(
            self,
            Instruction::Add(_)
                | Instruction::Copy(_)
                | Instruction::Env(_)
                | Instruction::Arg(_)
                | Instruction::Expose(_)
                | Instruction::Label(_)
                | Instruction::StopSignal(_)
                | Instruction::User(_)
                | Instruction::Volume(_)
                | Instruction::Workdir(_)
        )
    }

    /// The keyword, upper-case (`RUN`, `COPY`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Onbuild { .. } => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}
