//! The Dockerfile parser: text in, a [`Dockerfile`] of stages and located instructions out.
//!
//! Pure (no I/O). The pipeline: [`lines`] reads the parser directives and joins continuation
//! lines (dropping comments), [`instr`] turns each logical line into an instruction (flags,
//! exec/shell form, heredoc bodies read through [`heredoc`]), and [`parse`] groups them into
//! stages. Arguments stay as written; [`subst`] expands them later, for the instructions
//! [`Instruction::expands_variables`] names.

mod ast;
pub mod duration;
mod error;
mod heredoc;
mod instr;
mod lines;
pub mod mount;
pub mod subst;
mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_files;
#[cfg(test)]
mod tests_subst;

pub use ast::{
    ArgDecl, Command, Copy, CopyFlags, Directives, Dockerfile, HealthFlags, Healthcheck, Heredoc,
    Instruction, KeyValue, Located, Run, RunFlags, Source, Stage,
};
pub use error::ParseError;

pub(crate) use heredoc::shell_script;
use instr::Item;

/// Parses a Dockerfile; `name` is the file name errors start with.
pub fn parse(name: &str, text: &str) -> Result<Dockerfile, ParseError> {
    let fail = |line: Option<usize>, message: String| ParseError {
        file: name.to_string(),
        line,
        message,
    };
    let physical = lines::physical_lines(text);
    let directives = lines::directives(&physical).map_err(|(l, p)| fail(Some(l), p))?;
    let mut reader = lines::Reader::new(physical, directives.escape);
    let mut builder = Builder::default();
    while let Some(logical) = reader.next_logical() {
        let (kw, args) = instr::split_keyword(&logical.text);
        let mut bodies = |name: &str, strip: bool| reader.heredoc_body(name, strip);
        let item = instr::parse(&kw, args, directives.escape, &mut bodies)
            .map_err(|p| fail(Some(logical.line), p))?;
        builder
            .add(logical.line, item)
            .map_err(|p| fail(Some(logical.line), p))?;
    }
    builder.finish(directives).map_err(|p| fail(None, p))
}

/// Groups instructions into stages as they come.
#[derive(Default)]
struct Builder {
    global_args: Vec<Located<ArgDecl>>,
    stages: Vec<Stage>,
}

impl Builder {
    fn add(&mut self, line: usize, item: Item) -> Result<(), String> {
        match item {
            Item::From {
                image,
                name,
                platform,
            } => self.start_stage(line, image, name, platform),
            Item::Instr(instruction) => match self.stages.last_mut() {
                Some(stage) => {
                    stage.instructions.push(Located {
                        line,
                        value: instruction,
                    });
                    Ok(())
                }
                None => self.before_from(line, instruction),
            },
        }
    }

    fn start_stage(
        &mut self,
        line: usize,
        base: String,
        name: Option<String>,
        platform: Option<String>,
    ) -> Result<(), String> {
        if let Some(n) = &name {
            if self.stages.iter().any(|s| s.name.as_ref() == Some(n)) {
                return Err(format!("duplicate stage name {n:?}"));
            }
        }
        self.stages.push(Stage {
            name,
            base,
            platform,
            line,
            instructions: Vec::new(),
        });
        Ok(())
    }

    fn before_from(&mut self, line: usize, instruction: Instruction) -> Result<(), String> {
        match instruction {
            Instruction::Arg(decls) => {
                let located = decls.into_iter().map(|value| Located { line, value });
                self.global_args.extend(located);
                Ok(())
            }
            other => Err(format!("no FROM before {}", other.keyword())),
        }
    }

    fn finish(self, directives: Directives) -> Result<Dockerfile, String> {
        if self.stages.is_empty() {
            return Err(match self.global_args.is_empty() {
                true => "file with no instructions".to_string(),
                false => "no FROM instruction".to_string(),
            });
        }
        Ok(Dockerfile {
            directives,
            global_args: self.global_args,
            stages: self.stages,
        })
    }
}
