//! Checks on the C surface: the committed header is what cbindgen generates from the sources
//! now, and every exported function runs inside the panic guard.

#[path = "../tools/header.rs"]
mod header;

#[test]
fn the_committed_header_matches_the_sources() {
    let generated = header::generate(&header::crate_dir());
    let path = header::header_path();
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        committed == generated,
        "ffi/include/gridsync.h is out of date with the sources: \
         run `cargo run -p gridsync-ffi --example gen-header` and commit the result"
    );
}

#[test]
fn every_export_runs_its_body_inside_the_panic_guard() {
    // Each `extern "C" fn` body must be one call to `guard` or `guard_value`, so no panic can
    // unwind into Kotlin or Swift. cbindgen cannot see macro-made functions, so the guard is a
    // call rather than an `ffi_fn!` wrapper, and this test holds the line instead.
    let src = header::crate_dir().join("src");
    let mut exports = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some((_, rest)) = line.split_once("extern \"C\" fn ") else {
                continue;
            };
            exports.push(rest.split('(').next().unwrap().to_string());
            let body_start = lines[i..]
                .iter()
                .position(|l| l.trim_end().ends_with('{'))
                .map(|p| i + p + 1)
                .unwrap();
            let first = lines[body_start].trim_start();
            assert!(
                first.starts_with("guard(") || first.starts_with("guard_value("),
                "{}:{}: the body of an export must start with guard(..) or guard_value(..), \
                 found {first:?}",
                path.display(),
                body_start + 1
            );
        }
    }
    // The scan found every function the header declares, so none escaped it.
    let committed = std::fs::read_to_string(header::header_path()).unwrap();
    let mut declared: Vec<String> = committed
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('/'))
        .filter_map(|l| l.split_once("gs_").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once('(').map(|(name, _)| format!("gs_{name}")))
        .collect();
    exports.sort();
    declared.sort();
    assert_eq!(exports, declared);
}
