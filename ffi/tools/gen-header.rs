//! Writes `ffi/include/gridsync.h` from the sources: `cargo run -p gridsync-ffi --example gen-header`.

mod header;

fn main() {
    let text = header::generate(&header::crate_dir());
    let path = header::header_path();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("wrote {}", path.display());
}
