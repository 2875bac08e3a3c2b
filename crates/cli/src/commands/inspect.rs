//! `hull inspect CTR` and `hull image inspect`: the engine's Docker-shaped documents, printed
//! as JSON or through `--format` templates.

use anyhow::{Context, Result};
use hull_engine::view;
use hull_engine::Engine;

use super::Ctx;
use crate::cli::{ContainerInspectArgs, InspectArgs};
use crate::output::print_documents;

pub fn container(ctx: &Ctx, args: ContainerInspectArgs) -> Result<u8> {
    let engine = Engine::open(&ctx.root).context("open hull store")?;
    let mut docs = Vec::new();
    let mut code = 0;
    for name in &args.containers {
        match engine.containers.resolve(name) {
            Ok(r) => {
                let dir = engine.containers.dir(&r.id);
                let image = view::container::image_config(&engine, &r);
                docs.push(view::container::document(&r, &image, &dir))
            }
            Err(e) => {
                eprintln!("hull: {e}");
                code = 1;
            }
        }
    }
    print_documents(args.format.as_deref(), docs)?;
    Ok(code)
}

pub fn image(ctx: &Ctx, args: InspectArgs) -> Result<u8> {
    let store = ctx.store()?;
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &args.images {
        match store
            .resolve(name)
            .map_err(anyhow::Error::from)
            .and_then(|r| Ok(view::image::document(&store, &r)?))
        {
            Ok(doc) => docs.push(doc),
            Err(e) => {
                eprintln!("Error: {e:#}");
                failed = true;
            }
        }
    }
    print_documents(args.format.as_deref(), docs)?;
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use crate::output::render_template;
    use hull_engine::run::{RealHost, RunConfig, RunOptions};
    use hull_engine::state::{Record, State, Status};
    use hull_engine::view::container::document;
    use hull_oci::image::ContainerConfig;

    fn record(opts: RunOptions) -> Record {
        Record {
            id: "4f2a9c1b7e3d".to_string() + &"0".repeat(52),
            name: "happy_turing".into(),
            image: "busybox".into(),
            image_id: "sha256:00".into(),
            created: "2026-01-01T00:00:00Z".into(),
            command: vec!["sh".into(), "-c".into(), "true".into()],
            config: RunConfig::from_options(&opts, &RealHost).unwrap(),
            state: State {
                status: Status::Running,
                pid: Some(42),
                started_at: Some("2026-01-01T00:00:01Z".into()),
                restart_count: 2,
                ..State::default()
            },
        }
    }

    #[test]
    fn templates_reach_nested_fields() {
        let d = document(
            &record(RunOptions {
                image: "busybox".into(),
                ..RunOptions::default()
            }),
            &ContainerConfig::default(),
            std::path::Path::new("/c"),
        );
        assert_eq!(render_template("{{.State.Status}}", &d).unwrap(), "running");
        assert_eq!(
            render_template("{{json .State.Running}}", &d).unwrap(),
            "true"
        );
        assert_eq!(render_template("{{.Name}}", &d).unwrap(), "/happy_turing");
    }
}
