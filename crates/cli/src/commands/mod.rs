//! One function per command: validate the parsed flags, make one library call, print.

mod archive;
mod attach;
mod build;
mod commit;
mod containers;
mod copy;
mod detach;
mod df_verbose;
mod diff;
pub(crate) mod events;
mod exec;
mod images;
mod inspect;
mod logs;
mod manage;
mod network;
mod port;
mod pull;
mod push;
mod run;
pub mod service;
mod stats;
mod sysinfo;
mod system;
mod top;
mod volume;

use std::path::PathBuf;

use anyhow::{Context, Result};
use hull_image::Store;

use crate::cli::{Cli, Command, ContainerCommand, ImageCommand, NetworkCommand, SystemCommand};

/// What every command needs: the store root and the config file path.
pub struct Ctx {
    pub root: PathBuf,
    pub config: Option<PathBuf>,
}

impl Ctx {
    pub fn store(&self) -> Result<Store> {
        Store::open(&self.root).with_context(|| format!("open store {}", self.root.display()))
    }
}

/// The detached monitor's entry point when argv is exactly what `hull run -d` passes it: run
/// without clap (see `detach::monitor_from_argv`); None for any other argv.
pub fn run_monitor_directly(args: &[std::ffi::OsString]) -> Option<u8> {
    let (ctx, args) = detach::monitor_from_argv(args)?;
    Some(detach::monitor(&ctx, args).unwrap_or_else(|e| {
        eprintln!("hull: {}", crate::one_line(&e));
        125
    }))
}

/// Runs a command and returns the process exit code.
pub fn run(cli: Cli, service: service::ServiceEntry) -> Result<u8> {
    let ctx = Ctx {
        root: crate::settings::root(cli.root.as_deref()),
        config: cli.config,
    };
    match cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::pull(&ctx, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::push(&ctx, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::list(&ctx, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(&ctx, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::remove(&ctx, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => archive::load(&ctx, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => archive::save(&ctx, a),
        Command::Build(a) => build::build(&ctx, a),
        Command::Builder(crate::cli_build::BuilderCommand::Prune(a)) => build::prune(&ctx, a),
        Command::Commit(a) => commit::commit(&ctx, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => commit::import(&ctx, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => commit::history(&ctx, a),
        Command::Login(a) => pull::login(&ctx, a),
        Command::Logout(a) => pull::logout(a),
        Command::Image(ImageCommand::Inspect(a)) => inspect::image(&ctx, a),
        Command::Image(ImageCommand::Prune(a)) => images::prune(&ctx, a),
        Command::Image(ImageCommand::Mount(a)) => images::mount(&ctx, a),
        Command::Image(ImageCommand::Unmount(a)) => images::unmount(&ctx, a),
        Command::Run(a) => run::run(&ctx, *a),
        Command::Ps(a) => containers::ps(&ctx, a),
        Command::Rm(a) => containers::rm(&ctx, a),
        Command::Start(a) => containers::start(&ctx, a),
        Command::Attach(a) => attach::attach(&ctx, a),
        Command::Logs(a) => logs::logs(&ctx, a),
        Command::Stop(a) => containers::stop(&ctx, a),
        Command::Kill(a) => containers::kill(&ctx, a),
        Command::Wait(a) => containers::wait(&ctx, a),
        Command::Inspect(a) => inspect::container(&ctx, a),
        Command::Create(a) => manage::create(&ctx, *a),
        Command::Rename(a) => manage::rename(&ctx, a),
        Command::Update(a) => manage::update(&ctx, a),
        Command::Pause(a) => manage::pause(&ctx, a),
        Command::Unpause(a) => manage::unpause(&ctx, a),
        Command::Restart(a) => manage::restart(&ctx, a),
        Command::Container(ContainerCommand::Prune(a)) => manage::prune(&ctx, a),
        Command::Exec(a) => exec::exec(&ctx, a),
        Command::Cp(a) => copy::cp(&ctx, a),
        Command::Export(a) => copy::export(&ctx, a),
        Command::Top(a) => top::top(&ctx, a),
        Command::Stats(a) => stats::stats(&ctx, a),
        Command::Monitor(a) => detach::monitor(&ctx, a),
        Command::Network(NetworkCommand::Create(a)) => network::create(&ctx, a),
        Command::Network(NetworkCommand::Ls(a)) => network::ls(&ctx, a),
        Command::Network(NetworkCommand::Inspect(a)) => network::inspect(&ctx, a),
        Command::Network(NetworkCommand::Rm(a)) => network::rm(&ctx, a),
        Command::Network(NetworkCommand::Prune(a)) => network::prune(&ctx, a),
        Command::Network(NetworkCommand::Connect(a)) => network::connect(&ctx, a),
        Command::Network(NetworkCommand::Disconnect(a)) => network::disconnect(&ctx, a),
        Command::Network(NetworkCommand::Sweep) => network::sweep(&ctx),
        Command::Port(a) => port::port(&ctx, a),
        Command::System(SystemCommand::Boot) => system::boot(&ctx),
        Command::System(SystemCommand::Prune(a)) => system::prune(&ctx, a),
        Command::System(SystemCommand::Df(a)) => system::df(&ctx, a),
        Command::System(SystemCommand::Info(a)) | Command::Info(a) => sysinfo::info(&ctx, a),
        Command::System(SystemCommand::Service(a)) => service::service(&ctx, a, service),
        Command::Version(a) => sysinfo::version(&ctx, a),
        Command::Completion(a) => sysinfo::completion(a),
        Command::Volume(c) => volume::volume(&ctx, c),
        Command::Events(a) => events::events(&ctx, a),
        Command::Diff(a) => diff::diff(&ctx, a),
    }
}
