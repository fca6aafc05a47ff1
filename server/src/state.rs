//! Shared application state: the store, the current grid-map snapshot, settings and metrics.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::configuration::Settings;
use crate::domain::{AreaRecord, Level, User};
use crate::geo_index::{AreaId, GridIndex, IndexEntry};
use crate::geometry;
use crate::group_commit::CommitQueue;
use crate::metrics::Metrics;
use crate::rate_limit::PublicLimits;
use crate::store::{Store, StoreError};

/// What every handler gets through `web::Data<AppState>`.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The grid map index, kept in step with the database's map version.
    pub grids: Arc<GridMap>,
    /// Effective settings.
    pub settings: Arc<Settings>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// This process's automerge actor for the server's own changes. Every process has its own,
    /// so two instances writing the same document never reuse an actor's sequence numbers.
    pub actor: sync_core::automerge::ActorId,
    /// Sync requests' record writes, committed together (group commit).
    pub commits: CommitQueue,
    /// Per-client limits on login and the public intake.
    pub limits: Arc<PublicLimits>,
    /// The key complainants' contact details are sealed with (see `sync_core::contact`).
    pub contact_secret: Arc<sync_core::ContactSecret>,
    /// HTTP Basic credentials already verified, and their tokens.
    pub basic_logins: Arc<crate::auth::BasicLogins>,
}

impl AppState {
    /// State over a store, with an empty index that is filled on first use. Starts the thread
    /// that commits sync writes; fails only if that thread cannot be started.
    pub fn new(
        store: Arc<dyn Store>,
        settings: Settings,
        contact_secret: sync_core::ContactSecret,
    ) -> std::io::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let grids = Arc::new(GridMap::new(
            store.clone(),
            settings.map_check_interval,
            metrics.clone(),
        ));
        Ok(AppState {
            commits: CommitQueue::start(store.clone(), metrics.clone())?,
            limits: Arc::new(PublicLimits::new(
                settings.login_rate_per_minute,
                settings.intake_rate_per_minute,
                settings.login_account_rate_per_minute,
            )),
            store,
            grids,
            settings: Arc::new(settings),
            metrics,
            actor: sync_core::new_actor(),
            contact_secret: Arc::new(contact_secret),
            basic_logins: Arc::new(crate::auth::BasicLogins::default()),
        })
    }
}

/// One area's descriptive fields, by [`AreaId`].
#[derive(Debug, Clone)]
pub struct AreaMeta {
    /// Display name.
    pub name: String,
    /// Level.
    pub level: Level,
}

/// An immutable grid map: the index plus names and levels.
#[derive(Debug)]
pub struct MapSnapshot {
    /// The ownership index.
    pub index: GridIndex,
    /// Names and levels, indexed by [`AreaId`].
    pub meta: Vec<AreaMeta>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the whole map; `None` when it is empty.
    pub extent: Option<[f64; 4]>,
}

impl MapSnapshot {
    /// A grid and every region above it, `(code, level)`, the grid first; a code the map does
    /// not know is a grid on its own.
    pub fn region_path(&self, grid: &str) -> Vec<(String, String)> {
        match self.index.id_of(grid) {
            Some(id) => self
                .index
                .path(id)
                .into_iter()
                .map(|a| {
                    (
                        self.index.area(a).code.clone(),
                        self.meta[a as usize].level.as_str().to_string(),
                    )
                })
                .collect(),
            None => vec![(grid.to_string(), "grid".to_string())],
        }
    }

    /// Whether the map holds an area of this code.
    pub fn has_area(&self, code: &str) -> bool {
        self.index.id_of(code).is_some()
    }

    /// Every area's name, by code.
    pub fn names(&self) -> std::collections::BTreeMap<String, String> {
        self.meta
            .iter()
            .enumerate()
            .map(|(id, meta)| {
                (
                    self.index.area(id as AreaId).code.clone(),
                    meta.name.clone(),
                )
            })
            .collect()
    }

    /// Builds a snapshot from stored areas. An area whose stored geometry cannot be read (which
    /// validation on import prevents) is left out with a warning rather than failing the map.
    pub fn build(version: i64, records: &[AreaRecord]) -> Self {
        let mut entries = Vec::with_capacity(records.len());
        let mut metas = Vec::with_capacity(records.len());
        for record in records {
            match geometry::from_stored(&record.geometry) {
                Ok(geometry) => {
                    entries.push(IndexEntry {
                        code: record.code.clone(),
                        depth: record.level.depth(),
                        parent: record.parent.clone(),
                        geometry,
                    });
                    metas.push((
                        record.code.clone(),
                        AreaMeta {
                            name: record.name.clone(),
                            level: record.level,
                        },
                    ));
                }
                Err(error) => {
                    tracing::warn!(code = %record.code, %error, "skipping unreadable area geometry");
                }
            }
        }
        let index = GridIndex::build(version, entries);
        let mut meta = vec![
            AreaMeta {
                name: String::new(),
                level: Level::Grid
            };
            index.len()
        ];
        for (code, area_meta) in metas {
            if let Some(id) = index.id_of(&code) {
                meta[id as usize] = area_meta;
            }
        }
        let extent = records
            .iter()
            .map(|r| r.bbox)
            .reduce(crate::topology::union_box);
        MapSnapshot {
            index,
            meta,
            extent,
        }
    }

    /// The map version.
    pub fn version(&self) -> i64 {
        self.index.version()
    }

    /// `{code, name, level}` of an area.
    pub fn describe(&self, id: AreaId) -> serde_json::Value {
        let meta = &self.meta[id as usize];
        serde_json::json!({
            "code": self.index.area(id).code,
            "name": meta.name,
            "level": meta.level,
        })
    }

    /// Whether `code` is `ancestor` or lies in its subtree.
    pub fn is_within(&self, code: &str, ancestor: &str) -> bool {
        match (self.index.id_of(code), self.index.id_of(ancestor)) {
            (Some(id), Some(ancestor)) => self.index.path(id).contains(&ancestor),
            _ => code == ancestor,
        }
    }

    /// Every area code in the subtrees of `areas` (the areas themselves included).
    pub fn codes_within(&self, areas: &[String]) -> Vec<String> {
        let roots: Vec<_> = areas.iter().filter_map(|a| self.index.id_of(a)).collect();
        let mut codes: Vec<String> = (0..self.index.len() as u32)
            .filter(|&id| {
                let path = self.index.path(id as AreaId);
                roots.iter().any(|r| path.contains(r))
            })
            .map(|id| self.index.area(id as AreaId).code.clone())
            .collect();
        // Assigned codes not (yet) on the map still match records that name them.
        for area in areas {
            if !codes.contains(area) {
                codes.push(area.clone());
            }
        }
        codes
    }

    /// Whether an account may see an area: roles that see the whole map always may; others
    /// see the subtrees of their assigned areas and the ancestors of those areas (so a grid
    /// worker can read the village and township their grid belongs to).
    pub fn user_can_see(&self, user: &User, code: &str) -> bool {
        if user.role.sees_whole_map() {
            return true;
        }
        user.areas
            .iter()
            .any(|assigned| self.is_within(code, assigned) || self.is_within(assigned, code))
    }
}

/// Keeps an index of the current map version, rebuilding it when the database's version moves.
///
/// The version is read at most once per `check_interval` (one primary-key read), so a change
/// made through another server instance is seen within that interval; a change made through this
/// instance is seen at once ([`GridMap::refresh`]).
#[derive(Debug)]
pub struct GridMap {
    store: Arc<dyn Store>,
    current: RwLock<Arc<MapSnapshot>>,
    checked_at: Mutex<Option<Instant>>,
    rebuild: tokio::sync::Mutex<()>,
    check_interval: Duration,
    metrics: Arc<Metrics>,
}

impl GridMap {
    /// A map that loads itself on first use.
    pub fn new(store: Arc<dyn Store>, check_interval: Duration, metrics: Arc<Metrics>) -> Self {
        GridMap {
            store,
            current: RwLock::new(Arc::new(MapSnapshot::build(-1, &[]))),
            checked_at: Mutex::new(None),
            rebuild: tokio::sync::Mutex::new(()),
            check_interval,
            metrics,
        }
    }

    fn loaded(&self) -> Arc<MapSnapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current snapshot, checking the database's map version if the interval has passed.
    pub async fn snapshot(&self) -> Result<Arc<MapSnapshot>, StoreError> {
        let due = {
            let mut checked = self.checked_at.lock().unwrap_or_else(|p| p.into_inner());
            let due = checked.is_none_or(|at| at.elapsed() >= self.check_interval);
            if due {
                *checked = Some(Instant::now());
            }
            due
        };
        if due {
            let version = self.store.map_version().await?;
            if version != self.loaded().version() {
                return self.refresh().await;
            }
        }
        Ok(self.loaded())
    }

    /// Rebuilds from the database now unless the loaded index already has its version.
    pub async fn refresh(&self) -> Result<Arc<MapSnapshot>, StoreError> {
        let _guard = self.rebuild.lock().await;
        let version = self.store.map_version().await?;
        let loaded = self.loaded();
        if loaded.version() == version {
            return Ok(loaded);
        }
        let started = Instant::now();
        let (version, records) = self.store.map_snapshot().await?;
        let snapshot = tokio::task::spawn_blocking(move || MapSnapshot::build(version, &records))
            .await
            .map_err(|e| StoreError::Corrupt(format!("index build panicked: {e}")))?;
        let snapshot = Arc::new(snapshot);
        tracing::info!(
            version,
            areas = snapshot.index.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "grid index rebuilt"
        );
        self.metrics.index_rebuilds.inc();
        match self.current.write() {
            Ok(mut guard) => *guard = snapshot.clone(),
            Err(poisoned) => *poisoned.into_inner() = snapshot.clone(),
        }
        Ok(snapshot)
    }
}
