//! Settings: command-line flags, each also readable from a `GRIDSYNC_*` environment variable
//! (flags win over the environment, which wins over the defaults).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::domain::{Password, Role, Username};

/// The gridsync server: grid map, accounts, ownership lookups.
#[derive(Debug, Parser)]
#[command(name = "gridsync-server", version, about)]
pub struct Cli {
    /// Database: `sqlite://PATH` (created and migrated at start) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "GRIDSYNC_DATABASE_URL",
        default_value = "sqlite://gridsync.db",
        global = true
    )]
    pub database_url: String,

    /// Log one JSON object per line (for a log collector) instead of text.
    #[arg(
        long,
        env = "GRIDSYNC_LOG_JSON",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub log_json: bool,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `serve`, also accepted without the word `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(ServeArgs),
    /// Manage accounts from the command line (bootstrap the first admin).
    #[command(subcommand)]
    User(UserCommand),
}

/// `user …` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Add {
        /// Login name.
        #[arg(long)]
        username: Username,
        /// Password (at least 8 characters).
        #[arg(long, env = "GRIDSYNC_USER_PASSWORD", hide_env_values = true)]
        password: Password,
        /// One of grid_worker, grid_leader, gis, dispatcher, department, supervisor, admin.
        #[arg(long)]
        role: Role,
        /// An assigned area code (repeatable); a region covers its whole subtree.
        #[arg(long = "area")]
        areas: Vec<String>,
    },
}

/// Options of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed in the log).
    #[arg(long, env = "GRIDSYNC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Load the demo city (Siping: regions, grids, one account of every role) if the database
    /// has no areas yet. The demo passwords are printed in the log.
    #[arg(long, env = "GRIDSYNC_DEMO")]
    pub demo: bool,

    /// How long a login token lives, in seconds.
    #[arg(long, env = "GRIDSYNC_TOKEN_TTL_SECS", default_value_t = 12 * 3600)]
    pub token_ttl_secs: u64,

    /// How often, in milliseconds, to check the database's grid-map version (a change made by
    /// another server instance is seen within this interval).
    #[arg(long, env = "GRIDSYNC_MAP_CHECK_MS", default_value_t = 1000)]
    pub map_check_ms: u64,

    /// Largest accepted request body, in bytes (grid imports and batch lookups are the big ones).
    #[arg(long, env = "GRIDSYNC_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "GRIDSYNC_WORKERS")]
    pub workers: Option<usize>,

    /// How often, in seconds, to look for overdue cases and issue supervision notices; 0 turns
    /// the scheduler off (another instance sharing the database may run it).
    #[arg(long, env = "GRIDSYNC_SUPERVISION_INTERVAL_SECS", default_value_t = 60)]
    pub supervision_interval_secs: u64,

    /// How near, in metres, an open complaint of the same category must be to be offered as a
    /// possible duplicate of a new one (Open311 and the public form).
    #[arg(long, env = "GRIDSYNC_DUPLICATE_RADIUS_M", default_value_t = 200.0)]
    pub duplicate_radius_m: f64,

    /// Login attempts per minute from one client address (a burst of as many, then one every
    /// 60/N seconds); 0 turns the limit off. Generous: a county's phones behind one carrier NAT
    /// share an address; guessing is held by the per-account limit.
    #[arg(long, env = "GRIDSYNC_LOGIN_RATE_PER_MINUTE", default_value_t = 300)]
    pub login_rate_per_minute: u32,

    /// Login attempts per minute for one account, from any address; 0 turns the limit off.
    #[arg(
        long,
        env = "GRIDSYNC_LOGIN_ACCOUNT_RATE_PER_MINUTE",
        default_value_t = 10
    )]
    pub login_account_rate_per_minute: u32,

    /// How long a device credential lasts unused, in days: a phone offline longer logs in with
    /// its user's password again. Each refresh starts the span anew.
    #[arg(long, env = "GRIDSYNC_DEVICE_CREDENTIAL_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub device_credential_days: u64,

    /// Complaints per minute from one client address through the endpoints that need no token
    /// (Open311 and the public form); 0 turns the limit off.
    #[arg(long, env = "GRIDSYNC_INTAKE_RATE_PER_MINUTE", default_value_t = 30)]
    pub intake_rate_per_minute: u32,

    /// The file holding the server's contact key (32 bytes in base64), with which phones seal
    /// complainants' contact details and which encrypts them at rest. Every instance sharing a
    /// database needs the same file. Default with SQLite: `<database file>.contact-key`,
    /// created (mode 0600) when missing; PostgreSQL needs it set.
    #[arg(long, env = "GRIDSYNC_CONTACT_KEY_FILE")]
    pub contact_key_file: Option<std::path::PathBuf>,

    /// How many bytes of photos no record references yet (taken before their record synced)
    /// one account may upload.
    #[arg(long, env = "GRIDSYNC_UNREFERENCED_UPLOAD_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub unreferenced_upload_bytes: i64,

    /// Decimal places of the coordinates the server sends (areas' outlines): 7 is about 1 cm;
    /// fewer make smaller answers. Stored geometry keeps its full precision.
    #[arg(long, env = "GRIDSYNC_COORDINATE_DECIMALS", default_value_t = 7,
          value_parser = clap::value_parser!(u8).range(0..=15))]
    pub coordinate_decimals: u8,

    /// A bearer token for the metrics scraper (Prometheus's `authorization` setting). Without
    /// it, `/metrics` answers admin and supervisor accounts only.
    #[arg(long, env = "GRIDSYNC_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A basemap under the console's maps: an XYZ tile address with `{z}`, `{x}` and `{y}`
    /// (for example the city's own tile server, https://tiles.example.gov.cn/{z}/{x}/{y}.png).
    /// Its origin is added to the console's Content-Security-Policy. Without it the maps draw
    /// the grids on a plain ground and need no network beyond this server.
    #[arg(long, env = "GRIDSYNC_BASEMAP_TILES", value_parser = Basemap::parse)]
    pub basemap_tiles: Option<Basemap>,

    /// The basemap's attribution, shown as text in a corner of each map.
    #[arg(long, env = "GRIDSYNC_BASEMAP_ATTRIBUTION", value_parser = attribution)]
    pub basemap_attribution: Option<String>,
}

/// An XYZ tile address for the console's basemap, and the origin it is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basemap {
    /// `https://host/{z}/{x}/{y}.png`.
    pub template: String,
    /// `https://host` (with its port), as the Content-Security-Policy names it.
    pub origin: String,
}

impl Basemap {
    /// Checks a tile address: http(s), a plain host, `{z}`, `{x}` and `{y}`, and nothing that
    /// could end a policy directive or an attribute (spaces, quotes, `;`, `,`, `<`, `>`).
    pub fn parse(text: &str) -> Result<Basemap, String> {
        let template = text.trim();
        if template.len() > 500 {
            return Err("a basemap address is at most 500 characters".into());
        }
        let rest = template
            .strip_prefix("https://")
            .or_else(|| template.strip_prefix("http://"))
            .ok_or("a basemap address starts with https:// or http://")?;
        if let Some(bad) = template
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "'\";,<>\\`".contains(*c))
        {
            return Err(format!("a basemap address cannot hold {bad:?}"));
        }
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        {
            return Err(format!("{host:?} is not a host name"));
        }
        for part in ["{z}", "{x}", "{y}"] {
            if !template.contains(part) {
                return Err(format!("a basemap address holds {part}"));
            }
        }
        let scheme_len = template.len() - rest.len();
        Ok(Basemap {
            template: template.to_string(),
            origin: format!("{}{host}", &template[..scheme_len]),
        })
    }
}

fn attribution(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > 200 {
        return Err("an attribution is at most 200 characters".into());
    }
    Ok(text.to_string())
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        &Role::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub bind: String,
    /// Database URL.
    pub database_url: String,
    /// Load the demo city at start.
    pub demo: bool,
    /// Token lifetime.
    pub token_ttl: Duration,
    /// Map version check interval.
    pub map_check_interval: Duration,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// HTTP worker threads.
    pub workers: Option<usize>,
    /// How often the supervision scheduler sweeps; `None`: not in this instance.
    pub supervision_interval: Option<Duration>,
    /// The radius of duplicate hints at intake, in metres.
    pub duplicate_radius_m: f64,
    /// Login attempts per minute per client address (0: no limit).
    pub login_rate_per_minute: u32,
    /// Login attempts per minute per account (0: no limit).
    pub login_account_rate_per_minute: u32,
    /// How long a device credential lasts unused.
    pub device_credential_ttl: Duration,
    /// Public complaints per minute per client address (0: no limit).
    pub intake_rate_per_minute: u32,
    /// Where the contact key is kept (see [`ServeArgs::contact_key_file`]).
    pub contact_key_file: Option<std::path::PathBuf>,
    /// The contact key itself, given directly (tests); wins over the file.
    pub contact_secret: Option<sync_core::ContactSecret>,
    /// Bytes of blobs no record references yet that one account may hold.
    pub unreferenced_upload_bytes: i64,
    /// The metrics scraper's bearer token.
    pub metrics_token: Option<String>,
    /// Decimal places of the coordinates sent.
    pub coordinate_decimals: u8,
    /// The console maps' basemap, if any.
    pub basemap: Option<Basemap>,
    /// The basemap's attribution.
    pub basemap_attribution: Option<String>,
}

/// A test server's contact key: one per database, the same for every instance on it (as an
/// operator's shared key file would be), made from the database's URL.
fn test_contact_secret(database_url: &str) -> sync_core::ContactSecret {
    use sha2::{Digest, Sha256};
    let seed = Sha256::digest(format!("gridsync test contact key {database_url}"));
    sync_core::ContactSecret::from_bytes(&seed).expect("32 bytes")
}

/// Why the contact key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ContactKeyError {
    #[error("cannot read or write the contact key file {path}")]
    File {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the contact key file {0} does not hold 32 bytes in base64")]
    Malformed(std::path::PathBuf),
    #[error(
        "set --contact-key-file (GRIDSYNC_CONTACT_KEY_FILE): every instance sharing a PostgreSQL \
         database needs the same contact key"
    )]
    Missing,
}

impl Settings {
    /// Settings from parsed flags.
    pub fn from_args(database_url: String, args: &ServeArgs) -> Self {
        Settings {
            bind: args.bind.clone(),
            database_url,
            demo: args.demo,
            token_ttl: Duration::from_secs(args.token_ttl_secs),
            map_check_interval: Duration::from_millis(args.map_check_ms),
            max_body_bytes: args.max_body_bytes,
            workers: args.workers,
            supervision_interval: (args.supervision_interval_secs > 0)
                .then(|| Duration::from_secs(args.supervision_interval_secs)),
            duplicate_radius_m: args.duplicate_radius_m,
            login_rate_per_minute: args.login_rate_per_minute,
            login_account_rate_per_minute: args.login_account_rate_per_minute,
            device_credential_ttl: Duration::from_secs(args.device_credential_days * 86_400),
            intake_rate_per_minute: args.intake_rate_per_minute,
            contact_key_file: args.contact_key_file.clone(),
            contact_secret: None,
            unreferenced_upload_bytes: args.unreferenced_upload_bytes,
            metrics_token: args.metrics_token.clone().filter(|t| !t.trim().is_empty()),
            coordinate_decimals: args.coordinate_decimals,
            basemap: args.basemap_tiles.clone(),
            basemap_attribution: args.basemap_attribution.clone().filter(|a| !a.is_empty()),
        }
    }

    /// The server's contact key: given, read from its file, or (for a SQLite file database
    /// without a configured file) made once and kept beside the database, readable by its
    /// owner only. An in-memory database gets a key for the life of the process.
    pub fn contact_secret(&self) -> Result<sync_core::ContactSecret, ContactKeyError> {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD;
        if let Some(secret) = &self.contact_secret {
            return Ok(secret.clone());
        }
        let path = match (
            &self.contact_key_file,
            self.database_url.strip_prefix("sqlite:"),
        ) {
            (Some(path), _) => path.clone(),
            (None, Some(rest)) => {
                let file = rest
                    .trim_start_matches("//")
                    .split('?')
                    .next()
                    .unwrap_or("");
                if file.is_empty() || file.contains(":memory:") || file.starts_with("memory") {
                    return Ok(sync_core::ContactSecret::generate());
                }
                std::path::PathBuf::from(format!("{file}.contact-key"))
            }
            (None, None) => return Err(ContactKeyError::Missing),
        };
        let io = |source| ContactKeyError::File {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|bytes| sync_core::ContactSecret::from_bytes(&bytes).ok())
                .ok_or_else(|| ContactKeyError::Malformed(path.clone())),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && self.contact_key_file.is_none() =>
            {
                let secret = sync_core::ContactSecret::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io)?;
                std::io::Write::write_all(
                    &mut file,
                    format!("{}\n", STANDARD.encode(secret.to_bytes())).as_bytes(),
                )
                .map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "made a new contact key beside the database");
                Ok(secret)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Defaults for an in-process test server: a free port, two workers, a map check on every
    /// request (so a second instance's change is seen at once), no background scheduler (tests
    /// sweep explicitly, at the time they choose), no per-client limits (every test client is
    /// 127.0.0.1; the tests of the limits set them).
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        let database_url = database_url.into();
        Settings {
            bind: "127.0.0.1:0".into(),
            database_url: database_url.clone(),
            demo: false,
            token_ttl: Duration::from_secs(3600),
            map_check_interval: Duration::ZERO,
            max_body_bytes: 64 * 1024 * 1024,
            workers: Some(2),
            supervision_interval: None,
            duplicate_radius_m: 200.0,
            login_rate_per_minute: 0,
            login_account_rate_per_minute: 0,
            device_credential_ttl: Duration::from_secs(90 * 86_400),
            intake_rate_per_minute: 0,
            contact_key_file: None,
            contact_secret: Some(test_contact_secret(&database_url)),
            unreferenced_upload_bytes: 32 * 1024 * 1024,
            metrics_token: None,
            coordinate_decimals: 7,
            basemap: None,
            basemap_attribution: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Basemap;

    #[test]
    fn a_basemap_address_names_its_origin_for_the_policy() {
        let basemap =
            Basemap::parse(" https://tiles.example.gov.cn:8443/base/{z}/{x}/{y}.png ").unwrap();
        assert_eq!(basemap.origin, "https://tiles.example.gov.cn:8443");
        assert_eq!(
            basemap.template,
            "https://tiles.example.gov.cn:8443/base/{z}/{x}/{y}.png"
        );
        assert_eq!(
            Basemap::parse("http://10.0.0.5/{z}/{y}/{x}")
                .unwrap()
                .origin,
            "http://10.0.0.5"
        );
    }

    #[test]
    fn a_basemap_address_that_could_widen_the_policy_is_refused() {
        for bad in [
            "javascript:alert(1)/{z}/{x}/{y}",
            "ftp://tiles/{z}/{x}/{y}.png",
            "https://tiles.example/{z}/{x}.png",
            "https://tiles.example/{z}/{x}/{y}.png; script-src *",
            "https://tiles.example/{z}/{x}/{y}.png'",
            "https://tiles.example/{z}/{x}/{y}.png\"><script>",
            "https://a.example,https://b.example/{z}/{x}/{y}",
            "https:///{z}/{x}/{y}",
            "https://user@tiles.example/{z}/{x}/{y}",
        ] {
            assert!(Basemap::parse(bad).is_err(), "{bad}");
        }
    }
}
