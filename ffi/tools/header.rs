//! Generates `include/gridsync.h` from the crate's sources with cbindgen; shared by the
//! `gen-header` example (which writes it) and the drift test (which compares it).

use std::path::{Path, PathBuf};

/// The crate's directory, `ffi/`.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the committed header lives.
pub fn header_path() -> PathBuf {
    crate_dir().join("include").join("gridsync.h")
}

/// The header as cbindgen generates it from the sources now.
pub fn generate(crate_dir: &Path) -> String {
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml is readable and valid");
    // Parsing from lib.rs (following its `mod` declarations) needs no `cargo metadata` run.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src").join("lib.rs"))
        .generate()
        .expect("cbindgen parses the ffi sources");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}
