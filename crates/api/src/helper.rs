//! The exec helper: `hull __api-exec JOB` runs one exec for the service. The service is
//! multi-threaded, and an exec forks (the runtime refuses to fork a multi-threaded process), so
//! each exec runs in this helper, a fresh process the service spawns with the exec's stdio as
//! pipes. It writes the process's pid to the job's pid file once it runs, and exits with the
//! process's code (an engine error: its message on stderr, Docker's 125/126/127).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use hull_engine::lifecycle::ExecConfig;
use hull_engine::Engine;
use serde::{Deserialize, Serialize};

/// The helper's argv[1].
pub const EXEC_HELPER: &str = "__api-exec";

/// One exec, as the service hands it to the helper.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecJob {
    pub root: PathBuf,
    pub pid_file: PathBuf,
    pub container: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    /// The pty's first size, (height, width).
    pub console_size: Option<(u32, u32)>,
}

/// The `hull` binary calls this first: Some(exit code) when argv is the helper's, else None.
pub fn helper_main(argv: &[OsString]) -> Option<ExitCode> {
    if argv.get(1).and_then(|a| a.to_str()) != Some(EXEC_HELPER) {
        return None;
    }
    let job = argv
        .get(2)
        .and_then(|a| a.to_str())
        .ok_or_else(|| "no job given".to_string())
        .and_then(|j| serde_json::from_str::<ExecJob>(j).map_err(|e| e.to_string()));
    Some(match job {
        Ok(job) => run(&job),
        Err(e) => {
            eprintln!("hull: exec helper: invalid job: {e}");
            ExitCode::from(125)
        }
    })
}

fn run(job: &ExecJob) -> ExitCode {
    let engine = match Engine::open(&job.root) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("hull: open the store {}: {e}", job.root.display());
            return ExitCode::from(125);
        }
    };
    let config = ExecConfig {
        detach: false,
        interactive: job.interactive,
        tty: job.tty,
        env: job.env.clone(),
        user: job.user.clone(),
        workdir: job.workdir.clone(),
        container: job.container.clone(),
        args: job.args.clone(),
        console_size: job
            .console_size
            .map(|(height, width)| hull_oci::runtime::ConsoleSize { height, width }),
    };
    let pid_file = &job.pid_file;
    let mut started = |pid: i32| {
        let tmp = pid_file.with_extension("tmp");
        let written =
            std::fs::write(&tmp, pid.to_string()).and_then(|()| std::fs::rename(&tmp, pid_file));
        if let Err(e) = written {
            eprintln!("hull: write {}: {e}", pid_file.display());
        }
    };
    match engine.exec_observed(&config, &mut started) {
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        Err(e) => {
            eprintln!("hull: {}", crate::error::one_line(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
