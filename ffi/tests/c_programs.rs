//! The C tests: real C programs compiled by the system C compiler (`cc`, or `$CC`) against the
//! committed header and the library cargo built for this test run, run directly and under
//! valgrind memcheck.
//!
//! Cargo builds the package's `libgridsync.a` and `libgridsync.so` before its integration tests,
//! in the `deps/` directory where this test binary lives, so the programs always link the code
//! under test.

mod support;

use std::path::Path;

use support::{Link, Runner, c_source, compile, crate_dir, run};
use sync_core::{
    Assignment, AssignmentRole, Authority, MemoryServer, OwnerGrid, Record, Rejection, Status,
    Writer, now_ms,
};

fn offline_flow(runner: Runner) {
    let dir = tempfile::tempdir().unwrap();
    let program = compile(
        dir.path(),
        "offline_flow",
        &[c_source("offline_flow.c")],
        Link::Static,
    );
    let out = run(runner, &program, &[dir.path().to_str().unwrap()]);
    assert!(out.contains("offline flow: ok"), "{out}");
}

fn error_cases(runner: Runner) {
    let dir = tempfile::tempdir().unwrap();
    let program = compile(
        dir.path(),
        "error_cases",
        &[c_source("error_cases.c")],
        Link::Static,
    );
    let out = run(runner, &program, &[dir.path().to_str().unwrap()]);
    assert!(out.contains("error cases: ok"), "{out}");
}

/// The harness's server grants everything except records titled "Not allowed ..."; real roles
/// are the server crate's business.
struct Everyone;

impl Authority for Everyone {
    fn check_write(&self, _: Option<&Record>, after: &Record) -> Result<(), Rejection> {
        if after.title.starts_with("Not allowed") {
            return Err(Rejection::new(
                "forbidden",
                "grid workers may not file this",
            ));
        }
        Ok(())
    }
    fn in_scope(&self, _: &Record) -> bool {
        true
    }
}

/// The server's own decision after each accepted upload: every record belongs to grid G-07.
fn decide_owner(record: &mut Record) {
    record.owner_grid = Some(OwnerGrid {
        code: Some("G-07".into()),
        boundary_version: 1,
        decided_at: now_ms(),
    });
}

/// Plays the network and the server between runs of `sync_flow.c`: reads the request file,
/// answers it with the in-memory reference server, writes the response file.
fn exchange(server: &mut MemoryServer, dir: &Path, request: &str, response: &str) {
    let request = std::fs::read(dir.join(request)).unwrap();
    let answer = server
        .handle("phone-1", &request, &Everyone, &decide_owner)
        .expect("the C client's request decodes");
    std::fs::write(dir.join(response), answer).unwrap();
}

fn sync_flow(runner: Runner) {
    let dir = tempfile::tempdir().unwrap();
    let program = compile(
        dir.path(),
        "sync_flow",
        &[c_source("sync_flow.c")],
        Link::Static,
    );
    let work = dir.path().to_str().unwrap();
    let mut server = MemoryServer::new();

    run(runner, &program, &[work, "offline"]);
    exchange(&mut server, dir.path(), "request-1.bin", "response-1.bin");
    assert_eq!(
        server.ids().len(),
        2,
        "two records were stored, one refused"
    );

    // A dispatcher assigns the first record after the phone's first sync was answered.
    let ids = std::fs::read_to_string(dir.path().join("ids.txt")).unwrap();
    let first: sync_core::RecordId = ids.lines().next().unwrap().parse().unwrap();
    let dispatcher = Writer::new("dispatcher-liu", "web");
    let changed = server
        .edit(&first, &dispatcher, |r| {
            r.workflow.status = Status::Dispatched;
            r.workflow.assignments.push(Assignment {
                id: "a-1".into(),
                department: "Street Lighting Office".into(),
                role: AssignmentRole::Lead,
                deadline: now_ms() + 3 * 24 * 3600 * 1000,
                assigned_at: now_ms(),
                active: true,
            });
            Ok(())
        })
        .unwrap();
    assert!(changed);

    run(runner, &program, &[work, "online"]);
    // The second request asked for at most 8 KiB back (gs_sync_prepare_with).
    let second = std::fs::read(dir.path().join("request-2.bin")).unwrap();
    let decoded = sync_core::SyncRequest::decode(&second).unwrap();
    assert_eq!(decoded.response_budget, 8 * 1024);
    exchange(&mut server, dir.path(), "request-2.bin", "response-2.bin");
    run(runner, &program, &[work, "later"]);

    // The note written offline in C is on the server's copy.
    let record = server.record(&first).unwrap();
    assert!(
        record
            .timeline
            .iter()
            .any(|e| e.note == "Seen on the evening round")
    );
}

#[test]
fn the_offline_flow_runs_from_c() {
    offline_flow(Runner::Direct);
}

#[test]
fn the_offline_flow_has_no_leaks_or_invalid_accesses_under_valgrind() {
    offline_flow(Runner::Valgrind);
}

#[test]
fn every_misuse_from_c_gives_a_status_not_a_crash() {
    error_cases(Runner::Direct);
}

#[test]
fn the_misuse_cases_have_no_leaks_or_invalid_accesses_under_valgrind() {
    error_cases(Runner::Valgrind);
}

#[test]
fn a_c_client_syncs_with_the_in_memory_reference_server_and_sees_the_dispatchers_change() {
    sync_flow(Runner::Direct);
}

#[test]
fn the_sync_flow_has_no_leaks_or_invalid_accesses_under_valgrind() {
    sync_flow(Runner::Valgrind);
}

#[test]
fn the_app_flow_example_links_against_the_shared_library_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let source = crate_dir().join("examples").join("app_flow.c");
    let program = compile(dir.path(), "app_flow", &[source], Link::Shared);
    let out = run(Runner::Direct, &program, &[dir.path().to_str().unwrap()]);
    assert!(
        out.contains("upload: link broke, server holds 20000 bytes"),
        "{out}"
    );
    assert!(
        out.contains("server copy of the photo is complete and identical"),
        "{out}"
    );
}

#[test]
fn the_app_flow_example_has_no_leaks_or_invalid_accesses_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let source = crate_dir().join("examples").join("app_flow.c");
    let program = compile(dir.path(), "app_flow", &[source], Link::Shared);
    run(Runner::Valgrind, &program, &[dir.path().to_str().unwrap()]);
}
