//! The demo city: a small Siping (四平市) so a newcomer can log in and query at once.
//!
//! The map is synthetic but shaped like the real hierarchy around Siping (124.35E, 43.17N): one
//! city, two districts, two townships each, two villages each, and four grids per village, all
//! seamless (neighbours share edges exactly). One grid has a hole (a pond) that belongs to its
//! village only. Accounts of every role are created with the passwords in [`DEMO_ACCOUNTS`].

use geo::{LineString, MultiPolygon, Polygon};

use crate::auth::hash_password;
use crate::coords::Crs;
use crate::domain::{AreaRecord, Level, NewUser, Role, now_unix};
use crate::geometry;
use crate::store::Store;

mod history;

pub use history::PAST_COMPLAINTS;

/// `(username, password, role, assigned areas)` of the demo accounts.
pub const DEMO_ACCOUNTS: [(&str, &str, Role, &[&str]); 7] = [
    ("admin", "admin-demo", Role::Admin, &[]),
    ("gis", "gis-demo", Role::Gis, &[]),
    ("dispatcher", "dispatcher-demo", Role::Dispatcher, &["2203"]),
    ("supervisor", "supervisor-demo", Role::Supervisor, &["2203"]),
    (
        "department",
        "department-demo",
        Role::Department,
        &["220303"],
    ),
    ("leader", "leader-demo", Role::GridLeader, &["220302001001"]),
    (
        "worker",
        "worker-demo",
        Role::GridWorker,
        &["22030200100101"],
    ),
];

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> LineString {
    LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
}

fn area(
    code: &str,
    name: &str,
    level: Level,
    parent: Option<&str>,
    polygon: Polygon,
) -> AreaRecord {
    let geometry = MultiPolygon(vec![polygon]);
    AreaRecord {
        code: code.into(),
        name: name.into(),
        level,
        parent: parent.map(Into::into),
        bbox: geometry::bbox(&geometry),
        geometry: geometry::to_geojson(&geometry, Crs::Wgs84).to_string(),
        version: 0,
        updated_at: 0,
    }
}

/// The demo map's areas (WGS-84).
pub fn areas() -> Vec<AreaRecord> {
    let (x0, y0, x1, y1) = (124.20, 43.05, 124.50, 43.29);
    let mut out = vec![area(
        "2203",
        "四平市",
        Level::City,
        None,
        Polygon::new(rect(x0, y0, x1, y1), vec![]),
    )];
    let counties = [("220302", "铁西区"), ("220303", "铁东区")];
    let xm = (x0 + x1) / 2.0;
    for (ci, (county, county_name)) in counties.iter().enumerate() {
        let (cx0, cx1) = if ci == 0 { (x0, xm) } else { (xm, x1) };
        out.push(area(
            county,
            county_name,
            Level::County,
            Some("2203"),
            Polygon::new(rect(cx0, y0, cx1, y1), vec![]),
        ));
        let ym = (y0 + y1) / 2.0;
        for ti in 0..2 {
            let township = format!("{county}{:03}", ti + 1);
            let (ty0, ty1) = if ti == 0 { (y0, ym) } else { (ym, y1) };
            let township_name = format!("{county_name}{}街道", ["南", "北"][ti]);
            out.push(area(
                &township,
                &township_name,
                Level::Township,
                Some(county),
                Polygon::new(rect(cx0, ty0, cx1, ty1), vec![]),
            ));
            let cxm = (cx0 + cx1) / 2.0;
            for vi in 0..2 {
                let village = format!("{township}{:03}", vi + 1);
                let (vx0, vx1) = if vi == 0 { (cx0, cxm) } else { (cxm, cx1) };
                let village_name = format!("{township_name}{}社区", ["东风", "红旗"][vi]);
                out.push(area(
                    &village,
                    &village_name,
                    Level::Village,
                    Some(&township),
                    Polygon::new(rect(vx0, ty0, vx1, ty1), vec![]),
                ));
                let (vxm, vym) = ((vx0 + vx1) / 2.0, (ty0 + ty1) / 2.0);
                for gi in 0..4 {
                    let grid = format!("{village}{:02}", gi + 1);
                    let (gx0, gx1) = if gi % 2 == 0 { (vx0, vxm) } else { (vxm, vx1) };
                    let (gy0, gy1) = if gi < 2 { (ty0, vym) } else { (vym, ty1) };
                    let holes = if grid == "22030300200204" {
                        let (px, py) = ((gx0 + gx1) / 2.0, (gy0 + gy1) / 2.0);
                        vec![rect(px - 0.005, py - 0.004, px + 0.005, py + 0.004)]
                    } else {
                        vec![]
                    };
                    let grid_name = format!("{village_name}第{}网格", gi + 1);
                    out.push(area(
                        &grid,
                        &grid_name,
                        Level::Grid,
                        Some(&village),
                        Polygon::new(rect(gx0, gy0, gx1, gy1), holes),
                    ));
                }
            }
        }
    }
    out
}

/// Loads the demo map (only into an empty map), the demo accounts (only those missing) and a
/// few records (only into an empty record store).
pub async fn load(store: &dyn Store) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if store.map_version().await? == 0 {
        let areas = areas();
        let version = store.put_areas(&areas, now_unix()).await?;
        tracing::info!(areas = areas.len(), version, "demo map loaded");
    }
    for (username, password, role, assigned) in DEMO_ACCOUNTS {
        if store.user_by_name(username).await?.is_some() {
            continue;
        }
        let password_hash = tokio::task::spawn_blocking(move || hash_password(password)).await??;
        store
            .create_user(&NewUser {
                username: username.into(),
                password_hash,
                role,
                areas: assigned.iter().map(|s| s.to_string()).collect(),
                created_at: now_unix(),
            })
            .await?;
        tracing::info!(username, password, %role, "demo account created");
    }
    if store.departments().await?.is_empty() {
        seed_workflow(store).await?;
    }
    if store.change_head().await? == 0 {
        let (version, areas) = store.map_snapshot().await?;
        let map = crate::state::MapSnapshot::build(version, &areas);
        let count = seed_demo_records(store, &map).await?;
        tracing::info!(count, "demo records created");
    }
    Ok(())
}

/// The demo's departments: code, name, the area they serve.
const DEPARTMENTS: [(&str, &str, &str); 3] = [
    ("housing", "四平市住房和城乡建设局", "2203"),
    ("environment", "四平市生态环境局", "2203"),
    ("tiedong-urban", "铁东区城市管理局", "220303"),
];

/// The demo's dispatch rules: category (`*` for any), area, lead department, deadline class.
const RULES: [(&str, &str, &str, &str); 4] = [
    ("municipal.lighting", "2203", "housing", "general"),
    ("environment.noise", "2203", "environment", "urgent"),
    ("*", "2203", "housing", "general"),
    ("*", "220303", "tiedong-urban", "general"),
];

/// The demo departments' names by code, as a dispatch plan carries them for the timeline.
fn department_names() -> std::collections::BTreeMap<String, String> {
    DEPARTMENTS
        .iter()
        .map(|(code, name, _)| (code.to_string(), name.to_string()))
        .collect()
}

/// The lead department and deadline class the demo's [`RULES`] give `category` in `grid`, as
/// dispatch picks them: the category's own rule before a catch-all, then the deepest area (the
/// demo's codes extend their parents').
fn rule_for(category: &str, grid: &str) -> Option<(&'static str, &'static str)> {
    RULES
        .iter()
        .filter(|(c, area, ..)| (*c == category || *c == "*") && grid.starts_with(area))
        .max_by_key(|(c, area, ..)| (*c != "*", area.len()))
        .map(|(_, _, department, class)| (*department, *class))
}

/// Three departments, dispatch rules for the demo records' categories (and a city-wide
/// fallback), and the demo department account linked to the environment bureau, so a newcomer
/// can take a complaint round the loop at once.
async fn seed_workflow(store: &dyn Store) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use crate::store::{Contact, Department, DispatchRule};
    let now = now_unix() * 1000;
    for (code, name, areas) in DEPARTMENTS {
        let department = Department {
            code: code.into(),
            name: name.into(),
            areas: vec![areas.into()],
            contacts: vec![Contact {
                name: "值班室".into(),
                phone: Some("0434-12345".into()),
                duty: Some("24小时值班".into()),
            }],
        };
        store.put_department(&department, now).await?;
    }
    for (category, area, department, class) in RULES {
        let rule = DispatchRule {
            category: category.into(),
            area: area.into(),
            department: department.into(),
            deadline_class: class.into(),
        };
        store.put_dispatch_rule(&rule).await?;
    }
    if let Some(account) = store.user_by_name("department").await? {
        store
            .set_user_department(account.id, Some("environment"))
            .await?;
    }
    tracing::info!("demo departments and dispatch rules created");
    Ok(())
}

/// A few records for the demo city, so a newcomer sees something at once: complaints from the
/// demo worker's phone and the hotline, a risk inspection, and one outside every grid. Each is
/// owned through the map as a synced record would be.
pub async fn seed_demo_records(
    store: &dyn Store,
    map: &crate::state::MapSnapshot,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    use sync_core::{Channel, Crs, Location, RecordBuilder, RiskLevel};
    let areas = crate::demo::areas();
    let centre = |code: &str| {
        areas
            .iter()
            .find(|a| a.code == code)
            .map(|a| ((a.bbox[0] + a.bbox[2]) / 2.0, (a.bbox[1] + a.bbox[3]) / 2.0))
            .unwrap_or((124.35, 43.17))
    };
    let at = |(lon, lat): (f64, f64)| Location {
        lon,
        lat,
        accuracy_m: Some(8.0),
        crs: Crs::Wgs84,
    };
    let worker = Writer::new("worker", "demo-phone");
    let hotline = Writer::new("dispatcher", "web");
    let records = vec![
        (
            RecordBuilder::complaint("小区路灯不亮", &worker)
                .description("3号楼前的路灯连续三晚不亮，老人晚上出行不便。")
                .category("municipal.lighting")
                .location(at(centre("22030200100101")))
                .claimed_grid("22030200100101")
                .build(),
            worker.clone(),
        ),
        (
            RecordBuilder::risk_inspection("楼道堆放杂物", "fire", RiskLevel::High, &worker)
                .description("5单元楼道堆放纸箱和电动车电池，存在火灾隐患。")
                .location(at(centre("22030200100102")))
                .build(),
            worker.clone(),
        ),
        (
            RecordBuilder::complaint("夜间施工噪音", &hotline)
                .description("工地晚上十一点后仍在施工。")
                .category("environment.noise")
                .channel(Channel::Hotline)
                .location(at(centre("22030300100103")))
                .build(),
            hotline.clone(),
        ),
        (
            RecordBuilder::complaint("Village road flooded after rain", &hotline)
                .category("roads")
                .channel(Channel::SuggestionBox)
                .location(at((125.9, 43.6)))
                .build(),
            hotline,
        ),
    ];
    let actor = sync_core::new_actor();
    use crate::records::{decide_owner, log_entries, record_row};
    use crate::store::RecordCommit;
    use sync_core::{RecordDoc, Writer, now_ms};
    for (record, writer) in &records {
        let mut doc = RecordDoc::create(record, actor.clone(), writer)?;
        let record = decide_owner(&mut doc, record, map, &actor)?.unwrap_or_else(|| record.clone());
        let changes = log_entries(&doc.automerge().get_changes(&[]), "demo");
        let commit = RecordCommit {
            row: record_row(&record, now_ms()),
            doc: doc.save(),
            expected_version: None,
            changes,
            contact: None,
        };
        store.commit_records(std::slice::from_ref(&commit)).await?;
    }
    let hazards = seed_demo_hazards(store, map).await?;
    seed_demo_registers(store).await?;
    let past = history::seed(store, map, now_ms()).await?;
    Ok(records.len() + hazards + past)
}

/// The register of the leader's village: households, population and people by title on each of
/// its four grids, the demo leader and worker among them.
async fn seed_demo_registers(
    store: &dyn Store,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use crate::store::{GridPerson, GridRegister};
    let person = |title: &str, name: &str, phone: &str, username: Option<&str>| GridPerson {
        title: title.into(),
        name: name.into(),
        phone: Some(phone.into()),
        username: username.map(str::to_string),
    };
    for (i, (households, population)) in [(312, 868), (287, 801), (198, 540), (256, 702)]
        .into_iter()
        .enumerate()
    {
        let mut people = vec![
            person("网格长", "李明", "13904341001", Some("leader")),
            person(
                "网格员",
                "王芳",
                "13904341002",
                (i == 0).then_some("worker"),
            ),
            person(
                "楼栋长",
                &format!("{}号楼 赵刚", i + 1),
                "13904341010",
                None,
            ),
        ];
        if i % 2 == 0 {
            people.push(person("村民代表", "孙秀英", "13904341020", None));
        }
        store
            .put_grid_register(&GridRegister {
                area_code: format!("2203020010010{}", i + 1),
                households: Some(households),
                population: Some(population),
                people,
                updated_at: sync_core::now_ms(),
                updated_by: "demo".into(),
            })
            .await?;
    }
    Ok(())
}

/// Hazards in the leader's village at every stage of the loop, taken there through the real
/// lifecycle: one awaiting the leader, one returned to the worker, one verified, one settled in
/// the grid, one escalated to the desk, one with the environment bureau (the demo department
/// account), one rectified and awaiting re-inspection, and one closed.
async fn seed_demo_hazards(
    store: &dyn Store,
    map: &crate::state::MapSnapshot,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    use crate::records::{SERVER, decide_owner, log_entries, record_row};
    use crate::store::{CaseRow, CaseWrites, RecordCommit};
    use crate::workflow::calendar::Calendar;
    use crate::workflow::lifecycle::{self, Action, Actor, DispatchPlan, Env};
    use sync_core::{Crs, Location, RecordBuilder, RecordDoc, RiskLevel, Writer, now_ms};

    let actor = |username: &str, role: Role, department: Option<&str>| Actor {
        username: username.into(),
        role,
        department: department.map(str::to_string),
    };
    let (leader, worker, desk, bureau) = (
        actor("leader", Role::GridLeader, None),
        actor("worker", Role::GridWorker, None),
        actor("dispatcher", Role::Dispatcher, None),
        actor("department", Role::Department, Some("environment")),
    );
    let note = |text: &str| text.to_string();
    let verify = || Action::Verify {
        note: String::new(),
    };
    let escalate = || Action::Escalate {
        note: note("网格内无法处置，需职能部门整改"),
    };
    let dispatch = || Action::Dispatch {
        note: String::new(),
        lead: None,
        co_handlers: vec![],
        deadline_class: None,
        shirking: false,
    };
    let rectify = || Action::ReportRectification {
        note: note("已完成整改"),
        photos: vec![],
    };
    // The photo a leader settles a hazard in the grid with, held by the server like an upload.
    let photo = demo_photo();
    let photo_sha = sync_core::sha256_hex(&photo);
    store
        .blob_append(&crate::store::BlobAppend {
            sha256: &photo_sha,
            size: photo.len() as i64,
            start: 0,
            bytes: &photo,
            mime_type: Some("image/png"),
            uploaded_by: "worker",
            now: crate::domain::now_unix(),
        })
        .await?;
    store.blob_finish(&photo_sha, true).await?;
    type Steps<'a> = Vec<(Action, &'a Actor)>;
    let hazards: Vec<(&str, &str, RiskLevel, &str, Steps)> = vec![
        (
            "三单元电动车楼内充电",
            "fire",
            RiskLevel::High,
            "22030200100101",
            vec![],
        ),
        (
            "围墙出现裂缝",
            "building",
            RiskLevel::Medium,
            "22030200100102",
            vec![(
                Action::ReturnToWorker {
                    note: note("请补充裂缝长度和现场照片"),
                },
                &leader,
            )],
        ),
        (
            "小广场健身器材松动",
            "public_facility",
            RiskLevel::Low,
            "22030200100103",
            vec![(verify(), &leader)],
        ),
        (
            "占道堆放建筑材料",
            "public_space",
            RiskLevel::Low,
            "22030200100104",
            vec![
                (verify(), &leader),
                (
                    Action::ResolveInGrid {
                        note: note("网格长上门劝导，业主当天清走"),
                        evidence: Some(photo_sha.clone()),
                    },
                    &leader,
                ),
            ],
        ),
        (
            "燃气立管锈蚀严重",
            "gas",
            RiskLevel::Critical,
            "22030200100101",
            vec![(verify(), &leader), (escalate(), &leader)],
        ),
        (
            "河道漂浮垃圾堆积",
            "environment",
            RiskLevel::Medium,
            "22030200100102",
            vec![
                (verify(), &leader),
                (escalate(), &leader),
                (dispatch(), &desk),
            ],
        ),
        (
            "化粪池盖板破损",
            "environment",
            RiskLevel::High,
            "22030200100103",
            vec![
                (verify(), &leader),
                (escalate(), &leader),
                (dispatch(), &desk),
                (rectify(), &bureau),
            ],
        ),
        (
            "垃圾站渗滤液外溢",
            "environment",
            RiskLevel::Medium,
            "22030200100104",
            vec![
                (verify(), &leader),
                (escalate(), &leader),
                (dispatch(), &desk),
                (rectify(), &bureau),
                (
                    Action::Reinspect {
                        fixed: true,
                        note: note("现场复查，已清理并加装导流槽"),
                    },
                    &worker,
                ),
            ],
        ),
    ];
    let classes = store.deadline_classes().await?;
    let calendar = Calendar::new(store.calendar_days(None).await?);
    let server_actor = sync_core::new_actor();
    let writer = Writer::new("worker", "demo-phone");
    for (title, hazard_type, level, grid, steps) in &hazards {
        let area = crate::demo::areas().into_iter().find(|a| a.code == *grid);
        let (lon, lat) = area
            .map(|a| ((a.bbox[0] + a.bbox[2]) / 2.0, (a.bbox[1] + a.bbox[3]) / 2.0))
            .unwrap_or((124.27, 43.1));
        let mut built = RecordBuilder::risk_inspection(*title, *hazard_type, *level, &writer)
            .description(format!("{title}，网格员巡查发现。"))
            .location(Location {
                lon,
                lat,
                accuracy_m: Some(6.0),
                crs: Crs::Wgs84,
            })
            .build();
        if steps
            .iter()
            .any(|(a, _)| matches!(a, Action::ResolveInGrid { .. }))
        {
            built.attachments.insert(
                photo_sha.clone(),
                sync_core::Attachment {
                    sha256: photo_sha.clone(),
                    mime_type: "image/png".into(),
                    size: photo.len() as u64,
                    caption: Some("清理后现场".into()),
                },
            );
        }
        let mut doc = RecordDoc::create(&built, server_actor.clone(), &writer)?;
        let mut record =
            decide_owner(&mut doc, &built, map, &server_actor)?.unwrap_or_else(|| built.clone());
        let class = classes
            .iter()
            .find(|c| c.code == crate::workflow::service::rectification_class(*level))
            .cloned();
        let mut case = CaseRow::default();
        lifecycle::sync_case(&record, &mut case, now_ms());
        let mut writes = CaseWrites::default();
        for (action, by) in steps {
            let env = Env {
                now: now_ms(),
                calendar: &calendar,
                dispatch: class.clone().map(|class| DispatchPlan {
                    lead: "environment".into(),
                    co_handlers: vec![],
                    class,
                    names: department_names(),
                }),
                class: class.clone(),
                leader_review: false,
            };
            let mut done = lifecycle::apply(&mut record, &mut case, action, by, &env)?;
            writes.notices.append(&mut done.notices);
            writes.evaluations.append(&mut done.evaluations);
            writes.hazard_steps.append(&mut done.hazard_steps);
            writes.reviews.append(&mut done.reviews);
        }
        let mut doc =
            RecordDoc::create(&record, server_actor.clone(), &Writer::new(SERVER, SERVER))?;
        let changes = log_entries(&doc.automerge().get_changes(&[]), "demo");
        let commit = RecordCommit {
            row: record_row(&record, now_ms()),
            doc: doc.save(),
            expected_version: None,
            changes,
            contact: None,
        };
        store.commit_workflow(&commit, &case, &writes).await?;
    }
    Ok(hazards.len())
}

/// A small PNG picture (160 × 120: sky, a wall, a cleared pavement) for the demo's evidence
/// photo, encoded here so the demo needs no file.
pub fn demo_photo() -> Vec<u8> {
    use std::io::Write as _;
    let (width, height) = (160u32, 120u32);
    let mut raw = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            let pixel: [u8; 3] = if y < 40 {
                [150 + (y * 2) as u8, 190 + y as u8, 235]
            } else if y < 85 && (20..140).contains(&x) {
                if (y - 40) % 9 == 0 || (x + if (y - 40) / 9 % 2 == 0 { 0 } else { 10 }) % 20 == 0 {
                    [200, 200, 195]
                } else {
                    [178, 74, 56]
                }
            } else if y < 85 {
                [120, 170, 90]
            } else {
                [170 + (x % 7) as u8, 170, 165]
            };
            raw.extend_from_slice(&pixel);
        }
    }
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(&raw).expect("writing to memory");
    let data = deflate.finish().expect("writing to memory");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], body: &[u8]| {
        png.extend_from_slice(&(body.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(body);
        png.extend_from_slice(kind);
        png.extend_from_slice(body);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &data);
    chunk(b"IEND", &[]);
    png
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MapSnapshot;

    #[test]
    fn the_demo_rules_pick_the_category_first_then_the_deepest_area() {
        let east = "22030300100103";
        let west = "22030200100102";
        assert_eq!(
            rule_for("municipal.lighting", east),
            Some(("housing", "general"))
        );
        assert_eq!(
            rule_for("roads.damage", east),
            Some(("tiedong-urban", "general"))
        );
        assert_eq!(rule_for("roads.damage", west), Some(("housing", "general")));
        assert_eq!(
            rule_for("environment.noise", west),
            Some(("environment", "urgent"))
        );
        assert_eq!(rule_for("roads.damage", "99"), None);
    }

    #[test]
    fn the_demo_photo_is_a_small_png() {
        let photo = demo_photo();
        assert_eq!(infer::get(&photo).map(|t| t.mime_type()), Some("image/png"));
        assert!(photo.len() < 20_000, "{} bytes", photo.len());
    }

    #[test]
    fn the_demo_map_is_seamless_and_every_grid_owns_its_centre() {
        let areas = areas();
        assert_eq!(areas.len(), 1 + 2 + 4 + 8 + 32);
        let snapshot = MapSnapshot::build(1, &areas);
        for area in areas.iter().filter(|a| a.level == Level::Grid) {
            let [a, b, c, d] = area.bbox;
            let (x, y) = ((a + c) / 2.0 + (c - a) / 4.0, (b + d) / 2.0 + (d - b) / 4.0);
            let owner = snapshot.index.locate(x, y).expect("covered");
            assert_eq!(snapshot.index.area(owner).code, area.code);
        }
        let pond = snapshot
            .index
            .locate(124.48125, 43.26)
            .map(|id| snapshot.index.area(id).code.clone());
        assert_eq!(pond.as_deref(), Some("220303002002"));
    }
}
