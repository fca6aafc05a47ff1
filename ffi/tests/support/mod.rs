//! Building and running the C programs: shared by the C test binaries.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `ffi/`.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where cargo put the library for this test run: `target/<profile>/deps`, beside this test
/// binary. (The copies in `target/<profile>` are refreshed only by `cargo build`, not by
/// `cargo test`, so they may be stale.)
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

pub enum Link {
    /// `libgridsync.a`, as iOS links it.
    Static,
    /// `libgridsync.so`, as Android loads it.
    Shared,
}

/// Compiles `sources` into `dir/name` with warnings as errors and returns the program's path.
pub fn compile(dir: &Path, name: &str, sources: &[PathBuf], link: Link) -> PathBuf {
    let out = dir.join(name);
    let lib_dir = library_dir();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-std=c11",
        "-g",
        "-O0",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
    ])
    .arg("-I")
    .arg(crate_dir().join("include"))
    .arg("-I")
    .arg(crate_dir().join("tests").join("c"))
    .args(sources)
    .arg("-o")
    .arg(&out);
    match link {
        Link::Static => {
            let lib = lib_dir.join("libgridsync.a");
            assert!(lib.exists(), "{} was not built", lib.display());
            // The system libraries Rust's standard library needs on Linux
            // (`--print native-static-libs`).
            cmd.arg(lib).args([
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ]);
        }
        Link::Shared => {
            let lib = lib_dir.join("libgridsync.so");
            assert!(lib.exists(), "{} was not built", lib.display());
            cmd.arg("-L")
                .arg(&lib_dir)
                .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
                .args(["-lgridsync", "-lpthread"]);
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

pub fn c_source(name: &str) -> PathBuf {
    crate_dir().join("tests").join("c").join(name)
}

/// How a program is run: directly, or under valgrind memcheck failing on any error or leak.
#[derive(Clone, Copy)]
pub enum Runner {
    Direct,
    Valgrind,
}

/// Runs `program` with `args` and returns its standard output; fails the test with both
/// streams when it exits non-zero.
pub fn run(runner: Runner, program: &Path, args: &[&str]) -> String {
    let mut cmd = match runner {
        Runner::Direct => Command::new(program),
        Runner::Valgrind => {
            let mut cmd = Command::new("valgrind");
            cmd.args([
                "--quiet",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect,possible",
                "--show-leak-kinds=definite,indirect,possible",
                "--track-origins=yes",
                "--error-exitcode=1",
            ])
            .arg(program);
            cmd
        }
    };
    let output = cmd.args(args).output().unwrap_or_else(|e| match runner {
        Runner::Valgrind => panic!("cannot run valgrind (Debian package `valgrind`): {e}"),
        Runner::Direct => panic!("cannot run {}: {e}", program.display()),
    });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
