//! Times `unpack` on a tar (or `.gz`) file: `unpack_bench LAYER.tar[.gz] EMPTY_DIR`.
//! Compare with `gzip -dc LAYER.tar.gz | tar -x -C DIR` (target: within 1.3x).
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, layer, dest] = &args[..] else {
        return Err("usage: unpack_bench LAYER.tar[.gz] EMPTY_DIR".into());
    };
    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(layer)?);
    let reader: Box<dyn std::io::Read> = if layer.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let opts = hull_image::unpack::UnpackOptions {
        chown: hull_sys::fs::is_root(),
    };
    let start = Instant::now();
    let stats = hull_image::unpack::unpack(reader, std::path::Path::new(dest), &opts)?;
    eprintln!(
        "{} entries, {} bytes in {:.3}s",
        stats.entries,
        stats.bytes,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
