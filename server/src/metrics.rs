//! Hand-rolled Prometheus counters: a few atomics rendered in the text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters exported on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Responses by status class: index 0 = 1xx … 4 = 5xx.
    pub responses: [AtomicU64; 5],
    /// Points located (single and batch).
    pub located_points: AtomicU64,
    /// Points that fell outside every area.
    pub unassigned_points: AtomicU64,
    /// Grid index rebuilds.
    pub index_rebuilds: AtomicU64,
    /// Successful logins.
    pub logins: AtomicU64,
    /// Failed logins.
    pub login_failures: AtomicU64,
    /// Areas written by imports.
    pub imported_areas: AtomicU64,
    /// Sync round trips served.
    pub sync_requests: AtomicU64,
    /// Sync request bytes received.
    pub sync_bytes_in: AtomicU64,
    /// Sync response bytes sent.
    pub sync_bytes_out: AtomicU64,
    /// Uploaded documents the server refused.
    pub sync_rejections: AtomicU64,
    /// Total time spent serving sync requests, in microseconds.
    pub sync_micros: AtomicU64,
    /// Transactions the group commit ran for sync writes.
    pub commit_transactions: AtomicU64,
    /// Sync requests whose writes those transactions carried (divide by transactions for the
    /// mean group size).
    pub commit_requests: AtomicU64,
    /// Boundary edits applied.
    pub boundary_edits: AtomicU64,
    /// Records whose owner a boundary edit changed.
    pub reowned_records: AtomicU64,
}

impl Metrics {
    /// Counts one response.
    pub fn record_status(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every counter, plus the gauges given by the caller.
    pub fn render(&self, map_version: i64, areas: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP gridsync_http_responses_total HTTP responses by status class."
        );
        let _ = writeln!(out, "# TYPE gridsync_http_responses_total counter");
        for (i, counter) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "gridsync_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        let counters = [
            (
                "gridsync_located_points_total",
                "Points located.",
                &self.located_points,
            ),
            (
                "gridsync_unassigned_points_total",
                "Located points outside every area.",
                &self.unassigned_points,
            ),
            (
                "gridsync_index_rebuilds_total",
                "Grid index rebuilds.",
                &self.index_rebuilds,
            ),
            ("gridsync_logins_total", "Successful logins.", &self.logins),
            (
                "gridsync_login_failures_total",
                "Failed logins.",
                &self.login_failures,
            ),
            (
                "gridsync_imported_areas_total",
                "Areas written by imports.",
                &self.imported_areas,
            ),
            (
                "gridsync_boundary_edits_total",
                "Boundary edits applied.",
                &self.boundary_edits,
            ),
            (
                "gridsync_reowned_records_total",
                "Records whose owner grid a boundary edit changed.",
                &self.reowned_records,
            ),
            (
                "gridsync_sync_requests_total",
                "Sync round trips served.",
                &self.sync_requests,
            ),
            (
                "gridsync_sync_request_bytes_total",
                "Sync request bytes received.",
                &self.sync_bytes_in,
            ),
            (
                "gridsync_sync_response_bytes_total",
                "Sync response bytes sent.",
                &self.sync_bytes_out,
            ),
            (
                "gridsync_sync_rejections_total",
                "Uploaded documents refused.",
                &self.sync_rejections,
            ),
            (
                "gridsync_sync_duration_microseconds_total",
                "Time spent serving sync requests (divide by requests for the mean latency).",
                &self.sync_micros,
            ),
            (
                "gridsync_sync_commit_transactions_total",
                "Transactions that stored sync writes (group commit: several requests each).",
                &self.commit_transactions,
            ),
            (
                "gridsync_sync_commit_requests_total",
                "Sync requests whose writes were stored (divide by transactions for the group size).",
                &self.commit_requests,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP gridsync_map_version Grid map version of the loaded index."
        );
        let _ = writeln!(out, "# TYPE gridsync_map_version gauge");
        let _ = writeln!(out, "gridsync_map_version {map_version}");
        let _ = writeln!(out, "# HELP gridsync_map_areas Areas in the loaded index.");
        let _ = writeln!(out, "# TYPE gridsync_map_areas gauge");
        let _ = writeln!(out, "gridsync_map_areas {areas}");
        out
    }
}
