//! What `/metrics` exports, through `prometheus-client`: counters (each counts exactly what its
//! name says), the grid map's gauges, and latency histograms in seconds (every HTTP request, the
//! sync exchange, the group commit's transactions). Rendered in the OpenMetrics text format,
//! which Prometheus reads.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type of OpenMetrics text, which Prometheus asks for in its `Accept` header.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The media type of the classic Prometheus text format, for every other client (`promtool
/// check metrics`, curl).
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `class="2xx"` and the like.
type StatusClass = Vec<(&'static str, &'static str)>;

/// Latency buckets from 0.5 ms to about 33 s, doubling.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 17)
}

/// Everything exported on `/metrics`. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Responses by status class, `1xx` … `5xx`: the five counters of one labelled family,
    /// made once so that counting a response allocates nothing.
    responses: [Counter; 5],
    /// Seconds from a request's arrival to its response, every route.
    pub request_duration: Histogram,
    /// Points located through the locate API (single and batch).
    pub located_points: Counter,
    /// Of those, the points outside every area.
    pub unassigned_points: Counter,
    /// Grid index rebuilds.
    pub index_rebuilds: Counter,
    /// Successful logins.
    pub logins: Counter,
    /// Failed logins.
    pub login_failures: Counter,
    /// Request bodies the link cut before their end (a phone's upload over a lossy link):
    /// counted here, not as client errors.
    pub cut_bodies: Counter,
    /// Areas written by imports.
    pub imported_areas: Counter,
    /// Sync round trips served.
    pub sync_requests: Counter,
    /// Sync request bytes received.
    pub sync_bytes_in: Counter,
    /// Sync response bytes sent.
    pub sync_bytes_out: Counter,
    /// Uploaded documents the server refused.
    pub sync_rejections: Counter,
    /// Seconds serving each sync exchange.
    pub sync_duration: Histogram,
    /// Transactions the group commit ran for sync writes.
    pub commit_transactions: Counter,
    /// Sync requests whose writes those transactions carried (divide by transactions for the
    /// mean group size).
    pub commit_requests: Counter,
    /// Seconds each group-commit transaction took, from begin to durable commit.
    pub commit_duration: Histogram,
    /// Boundary edits applied.
    pub boundary_edits: Counter,
    /// Records whose owner a boundary edit or an import changed.
    pub reowned_records: Counter,
    /// Records whose owning grid the server wrote as they were written (sync uploads and
    /// intake): the points located on the write path, apart from the locate API.
    pub owner_decisions: Counter,
    map_version: Gauge,
    map_areas: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gridsync");
        let family = Family::<StatusClass, Counter>::default();
        registry.register(
            "http_responses",
            "HTTP responses by status class",
            family.clone(),
        );
        let responses = ["1xx", "2xx", "3xx", "4xx", "5xx"]
            .map(|class| family.get_or_create(&vec![("class", class)]).clone());
        let request_duration = Histogram::new(latency_buckets());
        registry.register(
            "http_request_duration_seconds",
            "Seconds from a request's arrival to its response",
            request_duration.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let located_points = counter(
            &mut registry,
            "located_points",
            "Points located through the locate API (single and batch)",
        );
        let unassigned_points = counter(
            &mut registry,
            "unassigned_points",
            "Points located through the locate API that fell outside every area",
        );
        let index_rebuilds = counter(&mut registry, "index_rebuilds", "Grid index rebuilds");
        let logins = counter(&mut registry, "logins", "Successful logins");
        let login_failures = counter(&mut registry, "login_failures", "Failed logins");
        let cut_bodies = counter(
            &mut registry,
            "cut_request_bodies",
            "Request bodies cut by the link before their end (not counted as client errors)",
        );
        let imported_areas = counter(&mut registry, "imported_areas", "Areas written by imports");
        let sync_requests = counter(&mut registry, "sync_requests", "Sync round trips served");
        let sync_bytes_in = counter(
            &mut registry,
            "sync_request_bytes",
            "Sync request bytes received",
        );
        let sync_bytes_out = counter(
            &mut registry,
            "sync_response_bytes",
            "Sync response bytes sent",
        );
        let sync_rejections = counter(
            &mut registry,
            "sync_rejections",
            "Uploaded documents refused",
        );
        let sync_duration = Histogram::new(latency_buckets());
        registry.register(
            "sync_duration_seconds",
            "Seconds serving a sync exchange",
            sync_duration.clone(),
        );
        let commit_transactions = counter(
            &mut registry,
            "sync_commit_transactions",
            "Transactions that stored sync writes (group commit: several requests each)",
        );
        let commit_requests = counter(
            &mut registry,
            "sync_commit_requests",
            "Sync requests whose writes were stored (divide by transactions for the group size)",
        );
        let commit_duration = Histogram::new(latency_buckets());
        registry.register(
            "sync_commit_duration_seconds",
            "Seconds a group-commit transaction took, from begin to durable commit",
            commit_duration.clone(),
        );
        let boundary_edits = counter(&mut registry, "boundary_edits", "Boundary edits applied");
        let reowned_records = counter(
            &mut registry,
            "reowned_records",
            "Records whose owner grid a boundary edit or an import changed",
        );
        let owner_decisions = counter(
            &mut registry,
            "owner_decisions",
            "Records whose owner grid the server wrote as they were synced or taken in",
        );
        let map_version = Gauge::default();
        registry.register(
            "map_version",
            "Grid map version of the loaded index",
            map_version.clone(),
        );
        let map_areas = Gauge::default();
        registry.register("map_areas", "Areas in the loaded index", map_areas.clone());
        Metrics {
            registry,
            responses,
            request_duration,
            located_points,
            unassigned_points,
            index_rebuilds,
            logins,
            login_failures,
            cut_bodies,
            imported_areas,
            sync_requests,
            sync_bytes_in,
            sync_bytes_out,
            sync_rejections,
            sync_duration,
            commit_transactions,
            commit_requests,
            commit_duration,
            boundary_edits,
            reowned_records,
            owner_decisions,
            map_version,
            map_areas,
        }
    }
}

impl Metrics {
    /// Counts a request whose body the link cut (the client never sees the answer).
    pub fn record_cut_body(&self, seconds: f64) {
        self.cut_bodies.inc();
        self.request_duration.observe(seconds);
    }

    /// Counts one response and how long it took.
    pub fn record_response(&self, status: u16, seconds: f64) {
        self.responses[(status / 100).clamp(1, 5) as usize - 1].inc();
        self.request_duration.observe(seconds);
    }

    /// Renders every metric in OpenMetrics text, with the map's gauges set to what the caller
    /// read.
    pub fn render(&self, map_version: i64, areas: usize) -> String {
        self.map_version.set(map_version);
        self.map_areas.set(i64::try_from(areas).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        encode(&mut out, &self.registry).unwrap_or_default();
        out
    }
}

/// OpenMetrics text as the classic Prometheus text format. The two differ, for what this server
/// exports, in two things only: OpenMetrics names a counter's family without its `_total`
/// suffix in `# HELP` and `# TYPE` (the samples carry it in both), and ends with `# EOF`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_histograms_render_with_base_units() {
        let metrics = Metrics::default();
        metrics.record_response(204, 0.002);
        metrics.record_response(503, 0.5);
        metrics.located_points.inc_by(3);
        let text = metrics.render(7, 45);
        assert!(
            text.contains("gridsync_http_responses_total{class=\"2xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gridsync_http_responses_total{class=\"5xx\"} 1"),
            "{text}"
        );
        assert!(text.contains("gridsync_located_points_total 3"), "{text}");
        assert!(text.contains("gridsync_map_version 7"), "{text}");
        assert!(text.contains("gridsync_map_areas 45"), "{text}");
        assert!(
            text.contains("gridsync_http_request_duration_seconds_count 2"),
            "{text}"
        );
        assert!(text.contains("# TYPE gridsync_sync_commit_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn the_classic_text_names_counter_families_with_their_total_and_has_no_eof() {
        let metrics = Metrics::default();
        metrics.logins.inc();
        let text = to_prometheus_text(&metrics.render(1, 2));
        assert!(
            text.contains("# HELP gridsync_logins_total Successful logins"),
            "{text}"
        );
        assert!(text.contains("# TYPE gridsync_logins_total counter\ngridsync_logins_total 1\n"));
        assert!(text.contains("# TYPE gridsync_map_version gauge\ngridsync_map_version 1\n"));
        assert!(text.contains("# TYPE gridsync_http_request_duration_seconds histogram"));
        assert!(!text.contains("# EOF"), "{text}");
    }
}
