//! `hull load` and `hull save`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use anyhow::{bail, Context, Result};
use hull_image::archive;

use super::Ctx;
use crate::cli::{LoadArgs, SaveArgs};

pub fn load(ctx: &Ctx, args: LoadArgs) -> Result<u8> {
    let store = ctx.store()?;
    let loaded = match &args.input {
        Some(path) => {
            let file = File::open(path).with_context(|| format!("load {}", path.display()))?;
            archive::load(&store, file).with_context(|| format!("load {}", path.display()))?
        }
        None => {
            if io::stdin().is_terminal() {
                bail!("load: give -i FILE or pipe an archive to stdin");
            }
            archive::load(&store, io::stdin()).context("load from stdin")?
        }
    };
    super::events::emit(ctx, |engine| {
        for image in &loaded {
            let tags: Vec<String> = image.tags.iter().map(|t| t.familiar()).collect();
            engine.image_loaded(&image.id.to_string(), &tags);
        }
    });
    if !args.quiet {
        for image in loaded {
            if image.tags.is_empty() {
                println!("Loaded image ID: {}", image.id);
            }
            for t in image.tags {
                println!("Loaded image: {}", t.familiar());
            }
        }
    }
    Ok(0)
}

pub fn save(ctx: &Ctx, args: SaveArgs) -> Result<u8> {
    let store = ctx.store()?;
    let images = archive::select(&store, &args.images)
        .with_context(|| format!("save {}", args.images.join(" ")))?;
    match &args.output {
        Some(path) => {
            let tmp = path.with_extension("hull-partial");
            let file = File::create(&tmp).with_context(|| format!("save to {}", path.display()))?;
            let result = archive::save(&store, &images, BufWriter::new(file))
                .map_err(anyhow::Error::from)
                .and_then(|w| w.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error())))
                .and_then(|f| Ok(f.sync_all()?))
                .and_then(|()| Ok(std::fs::rename(&tmp, path)?));
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result.with_context(|| format!("save to {}", path.display()))?;
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("save: refusing to write an archive to a terminal; use -o FILE or redirect");
            }
            let out = archive::save(&store, &images, BufWriter::new(io::stdout().lock()))?;
            out.into_inner()
                .map_err(|e| anyhow::anyhow!("{}", e.error()))?
                .flush()?;
        }
    }
    Ok(0)
}
