use gridsync_server::coords::wgs84_to_gcj02;
use gridsync_server::demo;
use gridsync_server::domain::Role;
use serde_json::{Value, json};
use sync_core::{
    ComplainantType, Crs, Location, NewComplainant, RecordBuilder, RecordId, Status, Store,
    SyncReport,
};

use crate::helpers::{TestApp, assert_problem};
use gridsync_test_macros::both_backends;

pub const WORKER_GRID: &str = "22030200100101";
/// The complainant every phone complaint names: personal data that must reach only the desk,
/// admins and the lead department.
pub const COMPLAINANT_NAME: &str = "张三丰";
pub const COMPLAINANT_PHONE: &str = "13912345678";
const OTHER_GRID: &str = "22030200100102";

/// The centre of a demo grid, in WGS-84.
pub fn centre(code: &str) -> (f64, f64) {
    let area = demo::areas()
        .into_iter()
        .find(|a| a.code == code)
        .expect("demo grid");
    (
        (area.bbox[0] + area.bbox[2]) / 2.0,
        (area.bbox[1] + area.bbox[3]) / 2.0,
    )
}

/// `len` bytes that start as a JPEG file does (what the server sniffs), then vary.
pub fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    bytes.extend((0..len as u32).map(|i| (i * 7 % 253) as u8));
    bytes.truncate(len);
    bytes
}

/// A phone: a sync-core store plus the account's token, syncing through the real HTTP API.
pub struct Phone {
    pub store: Store,
    pub token: String,
    pub device: String,
}

impl Phone {
    /// An account's phone, logged in: the bearer token kept, the server's contact key pinned
    /// as the app does with the login answer.
    pub async fn new(app: &TestApp, username: &str, role: Role, areas: &[&str]) -> Phone {
        app.add_user(username, role, areas).await;
        Phone::login_as(app, username).await
    }

    /// The phone of an account that exists already, logged in.
    pub async fn login_as(app: &TestApp, username: &str) -> Phone {
        use base64::Engine as _;
        let login = app.login_answer(username).await;
        let device = format!("{username}-phone");
        let mut store = Store::open_in_memory(username, &device).unwrap();
        let key = base64::engine::general_purpose::STANDARD
            .decode(login["contact_key"]["public_key"].as_str().unwrap())
            .unwrap();
        store.pin_contact_key(&key).unwrap();
        Phone {
            store,
            token: login["token"].as_str().unwrap().to_string(),
            device,
        }
    }

    /// A complaint at a point, from a complainant who left a name and phone (张三, the
    /// [`COMPLAINANT_PHONE`]).
    pub fn complaint_at(&mut self, title: &str, (lon, lat): (f64, f64), crs: Crs) -> RecordId {
        let (complainant, contact) = NewComplainant {
            anonymous: false,
            kind: ComplainantType::Person,
            name: Some(COMPLAINANT_NAME.into()),
            phone: Some(COMPLAINANT_PHONE.into()),
        }
        .split()
        .unwrap();
        let record = RecordBuilder::complaint(title, self.store.writer())
            .category("municipal")
            .location(Location {
                lon,
                lat,
                accuracy_m: Some(5.0),
                crs,
            })
            .complainant(complainant)
            .build();
        self.store
            .create_with_contact(&record, contact.as_ref())
            .unwrap()
    }

    pub async fn exchange(&self, app: &TestApp, body: Vec<u8>) -> reqwest::Response {
        app.client
            .post(app.url("/api/v1/sync"))
            .bearer_auth(&self.token)
            .header("x-gridsync-device", &self.device)
            .header("content-type", "application/vnd.gridsync.sync")
            .body(body)
            .send()
            .await
            .expect("sync request")
    }

    pub async fn sync(&mut self, app: &TestApp) -> SyncReport {
        let request = self.store.prepare_sync(256 * 1024).unwrap();
        let response = self.exchange(app, request.bytes).await;
        assert_eq!(response.status(), 200, "sync status");
        let bytes = response.bytes().await.unwrap();
        self.store.apply_sync(&bytes).unwrap()
    }

    /// Syncs until nothing waits.
    pub async fn sync_all(&mut self, app: &TestApp) -> SyncReport {
        let mut all = SyncReport::default();
        for _ in 0..20 {
            let report = self.sync(app).await;
            all.acknowledged.extend(report.acknowledged);
            all.changed.extend(report.changed);
            all.rejected.extend(report.rejected);
            all.contacts_acknowledged
                .extend(report.contacts_acknowledged);
            all.contacts_rejected.extend(report.contacts_rejected);
            all.needs_action.extend(report.needs_action);
            all.left_scope.extend(report.left_scope);
            all.conflicts.extend(report.conflicts);
            if !report.more {
                return all;
            }
        }
        panic!("sync did not settle");
    }
}

#[both_backends]
async fn a_record_moved_into_a_grid_reaches_its_worker_whole_in_one_exchange(app: TestApp) {
    app.load_demo_map().await;
    let mut author = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut next_door = Phone::new(&app, "zhao", Role::GridWorker, &[OTHER_GRID]).await;
    let id = author.complaint_at("Streetlight out", centre(WORKER_GRID), Crs::Wgs84);
    author.store.add_note(&id, "checked twice").unwrap();
    author.sync_all(&app).await;
    next_door.sync_all(&app).await;
    assert!(
        next_door.store.get(&id).is_err(),
        "not in the other grid's scope yet"
    );

    // The author corrects the location: the point is in the next grid.
    move_to(&mut author, &id, OTHER_GRID);
    author.sync_all(&app).await;
    let report = next_door.sync(&app).await;

    assert!(report.changed.contains(&id), "{report:?}");
    assert!(!report.more, "no history left to ask for: {report:?}");
    let received = next_door.store.get(&id).unwrap();
    assert_eq!(
        received.owner_grid.as_ref().unwrap().code.as_deref(),
        Some(OTHER_GRID)
    );
    assert_eq!(received, author.store.get(&id).unwrap());
    assert!(received.timeline.iter().any(|e| e.note == "checked twice"));
}

/// Records that move into a grid reach its worker whole, but an answer holds no more of them
/// than its budget: a phone on 2G asking for 4 KiB at a time gets answers of that size, and in
/// the end every record with its history.
#[both_backends]
async fn records_moving_into_a_grid_arrive_whole_within_each_answers_budget(app: TestApp) {
    app.load_demo_map().await;
    let mut author = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut next_door = Phone::new(&app, "zhao", Role::GridWorker, &[OTHER_GRID]).await;
    let ids: Vec<RecordId> = (0..20)
        .map(|i| {
            let id = author.complaint_at(&format!("Leak {i}"), centre(WORKER_GRID), Crs::Wgs84);
            for visit in 0..5 {
                let note = format!("visit {visit}: water still coming through the ceiling");
                author.store.add_note(&id, &note).unwrap();
            }
            id
        })
        .collect();
    author.sync_all(&app).await;
    next_door.sync_all(&app).await;
    for id in &ids {
        move_to(&mut author, id, OTHER_GRID);
    }
    author.sync_all(&app).await;

    let budget = 4096;
    let mut answers = 0;
    loop {
        let request = next_door.store.prepare_sync(budget).unwrap();
        let response = next_door.exchange(&app, request.bytes).await;
        let bytes = response.bytes().await.unwrap();
        let answer = sync_core::SyncResponse::decode(&bytes).unwrap();
        assert!(
            bytes.len() <= budget || answer.updates.len() == 1,
            "an answer of {} B with {} updates for a budget of {budget} B",
            bytes.len(),
            answer.updates.len()
        );
        answers += 1;
        if !next_door.store.apply_sync(&bytes).unwrap().more {
            break;
        }
        assert!(answers < 100, "the moves never finished arriving");
    }

    assert!(
        answers > 2,
        "twenty records with their history in {answers} answers"
    );
    for id in &ids {
        let received = next_door.store.get(id).unwrap();
        assert_eq!(received, author.store.get(id).unwrap());
        assert_eq!(
            received.owner_grid.as_ref().unwrap().code.as_deref(),
            Some(OTHER_GRID)
        );
    }
}

#[both_backends]
async fn a_phones_record_gets_its_owner_grid_and_reaches_that_grids_leader_only(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut leader = Phone::new(&app, "li", Role::GridLeader, &[WORKER_GRID]).await;
    let mut elsewhere = Phone::new(&app, "zhao", Role::GridWorker, &[OTHER_GRID]).await;
    let id = worker.complaint_at("Streetlight out", centre(WORKER_GRID), Crs::Wgs84);

    let report = worker.sync_all(&app).await;

    assert_eq!(report.acknowledged, vec![id]);
    assert!(
        report.changed.contains(&id),
        "the owner decision came back in the same exchange"
    );
    let owner = worker.store.get(&id).unwrap().owner_grid.unwrap();
    assert_eq!(owner.code.as_deref(), Some(WORKER_GRID));
    assert!(leader.sync_all(&app).await.changed.contains(&id));
    assert_eq!(
        leader.store.get(&id).unwrap(),
        worker.store.get(&id).unwrap()
    );
    assert!(elsewhere.sync_all(&app).await.changed.is_empty());
    assert_eq!(
        elsewhere.store.count().unwrap(),
        0,
        "a device never receives another grid's record"
    );
}

#[both_backends]
async fn a_gcj02_location_is_converted_before_ownership_and_a_wrong_claim_is_noted(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let (lon, lat) = centre(WORKER_GRID);
    let (glon, glat) = wgs84_to_gcj02(lon, lat);
    let id = worker.complaint_at("Blocked drain", (glon, glat), Crs::Gcj02);
    worker
        .store
        .update(&id, |r| {
            r.claimed_grid = Some(OTHER_GRID.into());
            Ok(())
        })
        .unwrap();

    worker.sync_all(&app).await;

    let record = worker.store.get(&id).unwrap();
    assert_eq!(
        record.owner_grid.unwrap().code.as_deref(),
        Some(WORKER_GRID)
    );
    let event = record
        .timeline
        .iter()
        .find(|e| e.kind == "owner_assigned")
        .expect("event");
    assert!(
        event.note.contains(OTHER_GRID),
        "the note names the wrong claim: {}",
        event.note
    );
}

#[both_backends]
async fn a_point_outside_every_grid_goes_to_the_unassigned_queue_that_dispatchers_see(
    app: TestApp,
) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let dispatcher = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let id = worker.complaint_at("Far away", (100.0, 30.0), Crs::Wgs84);
    worker.sync_all(&app).await;
    let owner = worker.store.get(&id).unwrap().owner_grid.unwrap();
    assert_eq!(owner.code, None);

    let queue: Value = app
        .get("/api/v1/records?unassigned=true", Some(&dispatcher))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue["records"][0]["id"], id.to_string());
    let forbidden = app
        .get("/api/v1/records?unassigned=true", Some(&worker.token))
        .await;
    assert_problem(forbidden, 403, "forbidden").await;
}

#[both_backends]
async fn a_forbidden_change_is_rejected_while_the_rest_of_the_batch_lands(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let noise = worker.complaint_at("Noise", centre(WORKER_GRID), Crs::Wgs84);
    let litter = worker.complaint_at("Litter", centre(WORKER_GRID), Crs::Wgs84);
    worker.sync_all(&app).await;

    worker
        .store
        .update(&noise, |r| {
            r.workflow.status = Status::Closed;
            Ok(())
        })
        .unwrap();
    worker
        .store
        .update(&litter, |r| {
            r.description = "bins overflowing".into();
            Ok(())
        })
        .unwrap();
    let report = worker.sync(&app).await;

    assert_eq!(report.rejected.len(), 1);
    assert_eq!(
        (report.rejected[0].id, report.rejected[0].code.as_str()),
        (noise, "forbidden_field")
    );
    assert!(
        report.rejected[0].reason.contains("workflow.status"),
        "{}",
        report.rejected[0].reason
    );
    assert_eq!(report.acknowledged, vec![litter]);
    assert_eq!(
        worker.store.get(&noise).unwrap().workflow.status,
        Status::Received
    );
    let stored: Value = app
        .get(&format!("/api/v1/records/{noise}"), Some(&worker.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stored["workflow"]["status"], "received",
        "nothing of the refused change was stored"
    );
    let stored: Value = app
        .get(&format!("/api/v1/records/{litter}"), Some(&worker.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["description"], "bins overflowing");
}

#[both_backends]
async fn a_dispatchers_transition_reaches_the_workers_phone(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let dispatcher = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let id = worker.complaint_at("Pothole", centre(WORKER_GRID), Crs::Wgs84);
    worker.sync_all(&app).await;

    let accepted = app
        .post(
            &format!("/api/v1/records/{id}/transitions"),
            Some(&dispatcher),
            &json!({ "action": "accept", "note": "市政类" }),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let report = worker.sync_all(&app).await;

    assert_eq!(report.changed, vec![id]);
    let record = worker.store.get(&id).unwrap();
    assert_eq!(record.workflow.status, Status::Accepted);
    let event = record.timeline.last().unwrap();
    assert_eq!(
        (
            event.actor.as_str(),
            event.kind.as_str(),
            event.note.as_str()
        ),
        ("zhou", "accepted", "市政类")
    );
}

#[both_backends]
async fn no_phone_moves_the_workflow_through_sync_whatever_its_role(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut dispatcher = Phone::new(&app, "zhou", Role::Dispatcher, &["2203"]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let mut department = Phone::new(&app, "dept", Role::Department, &["2203"]).await;
    let id = worker.complaint_at("Pothole", centre(WORKER_GRID), Crs::Wgs84);
    worker.sync_all(&app).await;
    // The case is dispatched to the department's own department, so its phone holds it.
    let housing = json!({ "name": "住建局" });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/departments/housing",
            Some(&admin),
            &housing,
        )
        .await;
    assert_eq!(put.status(), 200);
    let link = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/dept/department",
            Some(&admin),
            &json!({ "department": "housing" }),
        )
        .await;
    assert_eq!(link.status(), 200);
    for step in [
        json!({ "action": "accept" }),
        json!({ "action": "dispatch", "lead": "housing", "deadline_class": "general" }),
    ] {
        let path = format!("/api/v1/records/{id}/transitions");
        assert_eq!(
            app.post(&path, Some(&admin), &step).await.status(),
            200,
            "{step}"
        );
    }
    dispatcher.sync_all(&app).await;
    department.sync_all(&app).await;

    dispatcher
        .store
        .update(&id, |r| {
            r.workflow.status = Status::Accepted;
            Ok(())
        })
        .unwrap();
    department
        .store
        .update(&id, |r| {
            r.workflow.result = Some(sync_core::HandlingResult {
                outcome: sync_core::Outcome::Resolved,
                explanation: "done".into(),
                at: 1,
            });
            Ok(())
        })
        .unwrap();
    let by_dispatcher = dispatcher.sync(&app).await;
    let by_department = department.sync(&app).await;

    assert_eq!(by_dispatcher.rejected.len(), 1);
    assert_eq!(by_dispatcher.rejected[0].code, "forbidden_field");
    assert!(
        by_dispatcher.rejected[0].reason.contains("workflow.status"),
        "{}",
        by_dispatcher.rejected[0].reason
    );
    assert_eq!(by_department.rejected.len(), 1);
    assert!(
        by_department.rejected[0].reason.contains("workflow.result"),
        "{}",
        by_department.rejected[0].reason
    );
    let stored: Value = app
        .get(&format!("/api/v1/records/{id}"), Some(&worker.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["workflow"]["status"], "dispatched");
    assert_eq!(stored["workflow"]["result"], Value::Null);
}

#[both_backends]
async fn a_whole_document_sent_again_for_a_stored_record_is_merged_not_refused(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("Pothole", centre(WORKER_GRID), Crs::Wgs84);
    worker.sync_all(&app).await;
    worker.store.add_note(&id, "deeper than it looks").unwrap();
    // The whole document (as a phone sends after a reset), not only the note's change: it
    // looks new to the server until the insert finds the record stored.
    let whole = worker.store.load(&id).unwrap().unwrap().save();
    let request = sync_core::SyncRequest {
        request_id: 77,
        cursor: 0,
        response_budget: 64 * 1024,
        uploads: vec![sync_core::DocPayload { id, bytes: whole }],
        ..sync_core::SyncRequest::default()
    };

    let response = worker.exchange(&app, request.encode()).await;

    assert_eq!(response.status(), 200);
    let response = sync_core::SyncResponse::decode(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(response.acks.len(), 1);
    assert_eq!(response.acks[0].verdict, sync_core::Verdict::Accepted);
    let stored: Value = app
        .get(&format!("/api/v1/records/{id}"), Some(&worker.token))
        .await
        .json()
        .await
        .unwrap();
    let notes: Vec<&str> = stored["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["note"].as_str())
        .collect();
    assert!(notes.contains(&"deeper than it looks"), "{notes:?}");
    assert_eq!(
        stored["owner_grid"]["code"], WORKER_GRID,
        "the server's decision is kept"
    );
    let history: Value = app
        .get(
            &format!("/api/v1/records/{id}/history"),
            Some(&worker.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let head = app.store.change_head().await.unwrap();
    assert_eq!(
        history["changes"].as_array().unwrap().len() as i64,
        head,
        "no gap in the log"
    );
}

#[both_backends]
async fn retried_uploads_are_stored_once(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("Graffiti", centre(WORKER_GRID), Crs::Wgs84);
    let request = worker.store.prepare_sync(64 * 1024).unwrap();
    // The first response is lost; the same bytes are sent twice more.
    for _ in 0..3 {
        assert_eq!(
            worker.exchange(&app, request.bytes.clone()).await.status(),
            200
        );
    }
    worker.sync_all(&app).await;

    let head = app.store.change_head().await.unwrap();
    let history: Value = app
        .get(
            &format!("/api/v1/records/{id}/history"),
            Some(&worker.token),
        )
        .await
        .json()
        .await
        .unwrap();
    let changes = history["changes"].as_array().unwrap();
    assert_eq!(
        changes.len() as i64,
        head,
        "one stored change per automerge change"
    );
    assert_eq!(
        changes.len(),
        2,
        "the phone's creation and the server's owner decision"
    );
    assert_eq!(changes[0]["user"], "wang");
    assert_eq!(changes[1]["user"], "server");
    assert!(
        changes[1]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("owner_grid"))
    );

    let admin = app.user_token("ops", Role::Admin, &[]).await;
    let metrics = app
        .get("/metrics", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    let requests = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gridsync_sync_requests_total "))
        .expect("sync requests are counted");
    assert!(requests.parse::<u64>().unwrap() >= 4, "{requests}");
    assert!(metrics.contains("gridsync_sync_request_bytes_total"));
    assert!(
        metrics.contains("gridsync_owner_decisions_total 1\n"),
        "the one owner decision on the write path is counted: {metrics}"
    );
    assert!(
        metrics.contains("gridsync_located_points_total 0\n"),
        "the locate API's counter is the locate API's alone"
    );
}

#[both_backends]
async fn staff_intake_lists_by_grid_with_cursor_paging_and_as_geojson(app: TestApp) {
    app.load_demo_map().await;
    let dispatcher = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let (lon, lat) = centre(WORKER_GRID);
    for i in 0..5 {
        let body = json!({
            "kind": "complaint", "title": format!("hotline call {i}"), "channel": "hotline",
            "category": "environment.noise",
            "location": { "lon": lon, "lat": lat, "accuracy_m": null, "crs": "wgs84" },
        });
        let response = app.post("/api/v1/records", Some(&dispatcher), &body).await;
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["owner_grid"]["code"], WORKER_GRID);
    }
    let page: Value = app
        .get(
            "/api/v1/records?grid=220302&limit=3&channel=hotline",
            Some(&dispatcher),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(
            &format!("/api/v1/records?grid=220302&limit=3&cursor={cursor}"),
            Some(&dispatcher),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["records"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next_cursor"], Value::Null);
    let elsewhere: Value = app
        .get("/api/v1/records?grid=220303", Some(&dispatcher))
        .await
        .json()
        .await
        .unwrap();
    assert!(elsewhere["records"].as_array().unwrap().is_empty());
    let geo: Value = app
        .get("/api/v1/records?format=geojson", Some(&dispatcher))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    assert_eq!(geo["features"][0]["geometry"]["type"], "Point");

    let bad = app
        .post(
            "/api/v1/records",
            Some(&dispatcher),
            &json!({
                "kind": "complaint",
                "title": "x",
                "location": { "lon": 0, "lat": 95, "crs": "wgs84", "accuracy_m": null },
            }),
        )
        .await;
    assert_problem(bad, 422, "invalid_record").await;
    let unknown = app
        .post(
            "/api/v1/records",
            Some(&dispatcher),
            &json!({ "kind": "ufo", "title": "x" }),
        )
        .await;
    assert_eq!(unknown.status(), 400);
}

#[both_backends]
async fn garbage_sync_bytes_and_a_missing_device_get_problems_and_change_nothing(app: TestApp) {
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let garbage = worker
        .exchange(&app, b"GS\x01\x01not a frame".to_vec())
        .await;
    assert_problem(garbage, 400, "invalid_sync_message").await;
    let no_device = app
        .client
        .post(app.url("/api/v1/sync"))
        .bearer_auth(&worker.token)
        .body(worker.store.prepare_sync(1024).unwrap().bytes)
        .send()
        .await
        .unwrap();
    assert_problem(no_device, 400, "missing_device").await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/sync"))
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthenticated").await;
    assert_eq!(app.store.change_head().await.unwrap(), 0);
}

#[both_backends]
async fn a_range_the_link_cuts_keeps_what_arrived_so_the_phone_resumes_from_there(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    let photo = jpeg(10_000);
    let sha = sync_core::sha256_hex(&photo);

    // The whole photo as one range; the link drops after 6,000 bytes.
    let address = app.address.trim_start_matches("http://").to_string();
    let mut link = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "PUT /api/v1/blobs/{sha} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/octet-stream\r\ncontent-range: bytes 0-9999/10000\r\n\
         content-length: 10000\r\n\r\n"
    );
    link.write_all(head.as_bytes()).await.unwrap();
    link.write_all(&photo[..6_000]).await.unwrap();
    link.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let _ = link.read_to_end(&mut answer).await;

    let held = app
        .client
        .head(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    assert_eq!(held.headers()["upload-offset"], "6000");
    let rest = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&token)
        .header("content-range", "bytes 6000-9999/10000")
        .body(photo[6_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 200);
    let state: Value = rest.json().await.unwrap();
    assert_eq!(state["complete"], true, "{state}");
    let stored = app
        .get(&format!("/api/v1/blobs/{sha}"), Some(&token))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.to_vec(), photo);
}

#[both_backends]
async fn an_interrupted_photo_upload_resumes_from_the_servers_offset(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("Broken bench", centre(WORKER_GRID), Crs::Wgs84);
    let photo = jpeg(50_000);
    let attachment = worker
        .store
        .attach(&id, &photo, "image/jpeg", None)
        .unwrap();
    worker.sync_all(&app).await;
    let path = format!("/api/v1/blobs/{}", attachment.sha256);
    let record = app.record(&worker.token, &id.to_string()).await;
    assert_eq!(record["missing_blobs"], json!([attachment.sha256]));

    let put = |start: u64, bytes: Vec<u8>| {
        let end = start + bytes.len() as u64 - 1;
        app.client
            .put(app.url(&path))
            .bearer_auth(&worker.token)
            .header(
                "content-range",
                format!("bytes {start}-{end}/{}", photo.len()),
            )
            .body(bytes)
            .send()
    };
    // The first 20,000 bytes arrive; the link breaks during the next range.
    let chunk = worker.store.next_upload(20_000).unwrap().unwrap();
    assert_eq!(
        put(chunk.offset, worker.store.read_upload(&chunk).unwrap())
            .await
            .unwrap()
            .status(),
        200
    );
    // A range from the wrong offset is refused with the right one.
    let wrong = put(30_000, photo[30_000..40_000].to_vec()).await.unwrap();
    assert_eq!(wrong.status(), 409);
    // After the break the phone asks how much the server holds and resumes from there.
    let head = app
        .client
        .head(app.url(&path))
        .bearer_auth(&worker.token)
        .send()
        .await
        .unwrap();
    let held: u64 = head.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(held, 20_000);
    worker.store.set_uploaded(&attachment.sha256, held).unwrap();
    while let Some(chunk) = worker.store.next_upload(20_000).unwrap() {
        let response = put(chunk.offset, worker.store.read_upload(&chunk).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let offset: u64 = response.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        worker
            .store
            .set_uploaded(&attachment.sha256, offset)
            .unwrap();
    }

    let whole = app
        .get(&path, Some(&worker.token))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.as_ref(), photo.as_slice());
    let part = app
        .client
        .get(app.url(&path))
        .bearer_auth(&worker.token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &photo[100..200]);
    let record = app.record(&worker.token, &id.to_string()).await;
    assert_eq!(record["missing_blobs"], json!([]));
}

/// Every byte of a photo stored, its check never run: what the server holds after stopping
/// between the last range and its check, or after the link cut the request in that moment.
async fn whole_but_unchecked(app: &TestApp, photo: &[u8], by: &str) -> String {
    let sha = sync_core::sha256_hex(photo);
    app.store
        .blob_append(&gridsync_server::store::BlobAppend {
            sha256: &sha,
            size: photo.len() as i64,
            start: 0,
            bytes: photo,
            mime_type: Some("image/jpeg"),
            uploaded_by: by,
            now: gridsync_server::domain::now_unix(),
        })
        .await
        .unwrap()
        .expect("appended");
    sha
}

#[both_backends]
async fn a_photo_whose_last_range_arrived_but_was_never_checked_is_finished_by_the_next_head_or_put(
    app: TestApp,
) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("Broken bench", centre(WORKER_GRID), Crs::Wgs84);
    let photo = jpeg(30_000);
    worker
        .store
        .attach(&id, &photo, "image/jpeg", None)
        .unwrap();
    worker.sync_all(&app).await;
    let sha = whole_but_unchecked(&app, &photo, "wang").await;
    assert!(!app.store.blob_state(&sha).await.unwrap().unwrap().complete);

    // After a cut the phone asks where it stands: the server checks the bytes before it says
    // it holds them all.
    let head = app
        .client
        .head(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&worker.token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["upload-offset"], "30000");
    assert_eq!(head.headers()["x-gridsync-blob-complete"], "true");
    let whole = app
        .get(&format!("/api/v1/blobs/{sha}"), Some(&worker.token))
        .await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap().as_ref(), photo.as_slice());

    // A phone that sends the last range again instead finishes it the same way.
    let other = jpeg(31_000);
    let id = worker.complaint_at("Another bench", centre(WORKER_GRID), Crs::Wgs84);
    worker
        .store
        .attach(&id, &other, "image/jpeg", None)
        .unwrap();
    worker.sync_all(&app).await;
    let sha = whole_but_unchecked(&app, &other, "wang").await;
    let again = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&worker.token)
        .header("content-range", "bytes 30000-30999/31000")
        .body(other[30_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["upload-offset"], "31000");
    assert!(app.store.blob_state(&sha).await.unwrap().unwrap().complete);
}

#[both_backends]
async fn bytes_that_do_not_hash_to_the_blobs_name_are_refused_and_forgotten(app: TestApp) {
    let token = app
        .user_token("wang", Role::GridWorker, &[WORKER_GRID])
        .await;
    let name = sync_core::sha256_hex(&jpeg(100));
    let response = app
        .client
        .put(app.url(&format!("/api/v1/blobs/{name}")))
        .bearer_auth(&token)
        .body(jpeg(101))
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "hash_mismatch").await;
    let head = app
        .client
        .head(app.url(&format!("/api/v1/blobs/{name}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}

#[both_backends]
async fn a_worker_given_a_new_grid_receives_the_records_already_there(app: TestApp) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let mut there = Phone::new(&app, "zhao", Role::GridWorker, &[OTHER_GRID]).await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let old = there.complaint_at("Fallen tree", centre(OTHER_GRID), Crs::Wgs84);
    there.sync_all(&app).await;
    assert!(worker.sync_all(&app).await.changed.is_empty());

    let body = json!({ "areas": [WORKER_GRID, OTHER_GRID] });
    let response = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/wang/areas",
            Some(&admin),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200);
    let report = worker.sync_all(&app).await;

    assert_eq!(
        report.changed,
        vec![old],
        "the record already in the new grid arrived"
    );
    assert_eq!(
        worker.store.get(&old).unwrap(),
        there.store.get(&old).unwrap()
    );
    // And only once: the next sync is back to an empty exchange.
    assert!(worker.sync_all(&app).await.changed.is_empty());
}

#[both_backends]
async fn a_gzip_compressed_sync_request_is_accepted(app: TestApp) {
    use std::io::Write;
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("Compressed on a 2G link", centre(WORKER_GRID), Crs::Wgs84);
    let request = worker.store.prepare_sync(64 * 1024).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&request.bytes).unwrap();
    let body = gz.finish().unwrap();

    let response = app
        .client
        .post(app.url("/api/v1/sync"))
        .bearer_auth(&worker.token)
        .header("x-gridsync-device", &worker.device)
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report = worker
        .store
        .apply_sync(&response.bytes().await.unwrap())
        .unwrap();
    assert_eq!(report.acknowledged, vec![id]);

    // And the response comes back gzip-compressed to a client that asks for it.
    let request = worker.store.prepare_sync(64 * 1024).unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/sync"))
        .bearer_auth(&worker.token)
        .header("x-gridsync-device", &worker.device)
        .header("accept-encoding", "gzip")
        .body(request.bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let mut frame = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(response.bytes().await.unwrap().as_ref()),
        &mut frame,
    )
    .unwrap();
    assert!(worker.store.apply_sync(&frame).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_comes_with_records_a_newcomer_can_list() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| s.demo = true).await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "dispatcher", "password": "dispatcher-demo" }),
        )
        .await;
    let token = login.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let all: Value = app
        .get("/api/v1/records?limit=500", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    // Four complaints and surveys, eight hazards at the stages of their loop, and the past
    // months' complaints behind the reports.
    assert_eq!(
        all["records"].as_array().unwrap().len(),
        12 + gridsync_server::demo::PAST_COMPLAINTS
    );
    let queue: Value = app
        .get("/api/v1/records?unassigned=true", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        queue["records"].as_array().unwrap().len(),
        1,
        "one demo record lies outside every grid"
    );
    let worker = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "worker", "password": "worker-demo" }),
        )
        .await;
    let worker = worker.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mine: Value = app
        .get("/api/v1/records", Some(&worker))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine["records"].as_array().unwrap().len(),
        10,
        "the worker's own records: two, and the eight hazards they reported"
    );
}

/// A new record's write as a sync request makes it: its row, its document and its one change.
fn new_record_commit(title: &str) -> gridsync_server::store::RecordCommit {
    let writer = sync_core::Writer::new("wang", "wang-phone");
    let record = RecordBuilder::complaint(title, &writer)
        .category("municipal")
        .build();
    let mut doc = sync_core::RecordDoc::create(&record, sync_core::new_actor(), &writer).unwrap();
    let changes =
        gridsync_server::records::log_entries(&doc.automerge().get_changes(&[]), "1/wang-phone");
    gridsync_server::store::RecordCommit {
        row: gridsync_server::records::record_row(&record, sync_core::now_ms()),
        doc: doc.save(),
        expected_version: None,
        changes,
        contact: None,
    }
}

#[both_backends]
async fn requests_committed_together_each_get_their_own_outcomes_and_a_record_is_stored_once(
    app: TestApp,
) {
    use gridsync_server::store::CommitOutcome;
    let (a1, a2, b1, c1) = (
        new_record_commit("a1"),
        new_record_commit("a2"),
        new_record_commit("b1"),
        new_record_commit("c1"),
    );
    let head = app.store.change_head().await.unwrap();
    // The second request also carries a1 as new, as a device that copied it would.
    let requests = vec![
        vec![a1.clone(), a2.clone()],
        vec![b1.clone(), a1.clone()],
        vec![c1.clone()],
    ];

    let outcomes: Vec<Vec<CommitOutcome>> =
        gridsync_server::group_commit::commit_together(app.store.as_ref(), requests)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();

    let stored = |o: &CommitOutcome| matches!(o, CommitOutcome::Stored { version: 1, .. });
    assert_eq!(
        outcomes.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 2, 1],
        "each request gets an answer for each of its writes"
    );
    assert!(
        stored(&outcomes[0][0])
            && stored(&outcomes[0][1])
            && stored(&outcomes[1][0])
            && stored(&outcomes[2][0])
    );
    assert_eq!(
        outcomes[1][1],
        CommitOutcome::Conflict,
        "the second write of a1 is told to merge and retry"
    );
    let ids: Vec<String> = [&a1, &a2, &b1, &c1]
        .iter()
        .map(|c| c.row.id.clone())
        .collect();
    assert_eq!(
        app.store.record_docs(&ids).await.unwrap().len(),
        4,
        "every record is stored, once"
    );
    let upto = app.store.change_head().await.unwrap();
    let logged = app
        .store
        .change_feed(
            head,
            upto,
            "",
            &gridsync_server::store::RecordScope::All,
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        logged.len(),
        4,
        "one change-log entry per stored record, none for the refused copy"
    );
}

/// The author's phone moves a record's point to the centre of `grid` (a corrected location).
fn move_to(phone: &mut Phone, id: &RecordId, grid: &str) {
    phone
        .store
        .update(id, |r| {
            let (lon, lat) = centre(grid);
            r.location.as_mut().unwrap().lon = lon;
            r.location.as_mut().unwrap().lat = lat;
            Ok(())
        })
        .unwrap();
}

#[both_backends]
async fn a_record_moved_to_another_grid_leaves_the_old_grids_phones_and_late_work_is_kept_aside(
    app: TestApp,
) {
    app.load_demo_map().await;
    let mut author = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut colleague = Phone::new(&app, "li", Role::GridWorker, &[WORKER_GRID]).await;
    let mut leader = Phone::new(&app, "chen", Role::GridLeader, &[WORKER_GRID]).await;
    let id = author.complaint_at("Streetlight out", centre(WORKER_GRID), Crs::Wgs84);
    author.sync_all(&app).await;
    colleague.sync_all(&app).await;
    leader.sync_all(&app).await;
    assert!(colleague.store.get(&id).is_ok() && leader.store.get(&id).is_ok());

    // Offline, the colleague adds a note; meanwhile the author corrects the location.
    colleague.store.add_note(&id, "lamp post leaning").unwrap();
    move_to(&mut author, &id, OTHER_GRID);
    author.sync_all(&app).await;
    let leaders = leader.sync_all(&app).await;
    let colleagues = colleague.sync_all(&app).await;

    let left = |code: &str, kept: bool| sync_core::LeftScope {
        id,
        code: code.into(),
        unsent_changes_kept: kept,
    };
    assert_eq!(leaders.left_scope, vec![left("moved_away", false)]);
    assert!(leader.store.load(&id).unwrap().is_none(), "no stale copy");
    assert_eq!(colleagues.left_scope, vec![left("moved_away", true)]);
    assert!(colleague.store.load(&id).unwrap().is_none());
    let kept = colleague.store.rejected().unwrap();
    assert_eq!(
        (kept.len(), kept[0].code.as_str()),
        (1, "out_of_scope"),
        "the note the server never took is kept for the worker to see"
    );
    assert!(colleague.store.sync_status().unwrap().up_to_date);
    // The author made it and keeps it, in its new grid.
    let mine = author.store.get(&id).unwrap();
    assert_eq!(mine.owner_grid.unwrap().code.as_deref(), Some(OTHER_GRID));
    // And the next exchange is empty again.
    assert!(leader.sync_all(&app).await.left_scope.is_empty());
}

#[both_backends]
async fn a_record_that_left_and_came_back_before_the_phone_synced_stays_on_it(app: TestApp) {
    app.load_demo_map().await;
    let mut author = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut leader = Phone::new(&app, "chen", Role::GridLeader, &[WORKER_GRID]).await;
    let id = author.complaint_at("Blocked drain", centre(WORKER_GRID), Crs::Wgs84);
    author.sync_all(&app).await;
    leader.sync_all(&app).await;

    move_to(&mut author, &id, OTHER_GRID);
    author.sync_all(&app).await;
    move_to(&mut author, &id, WORKER_GRID);
    author.sync_all(&app).await;
    let report = leader.sync_all(&app).await;

    assert!(report.left_scope.is_empty(), "{report:?}");
    assert_eq!(
        leader.store.get(&id).unwrap(),
        author.store.get(&id).unwrap()
    );
}

#[both_backends]
async fn a_phone_whose_account_lost_a_grid_drops_what_it_may_no_longer_read(app: TestApp) {
    app.load_demo_map().await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let mut there = Phone::new(&app, "zhao", Role::GridWorker, &[OTHER_GRID]).await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID, OTHER_GRID]).await;
    let theirs = there.complaint_at("Fallen tree", centre(OTHER_GRID), Crs::Wgs84);
    there.sync_all(&app).await;
    let own = worker.complaint_at("Made here, filed there", centre(OTHER_GRID), Crs::Wgs84);
    worker.sync_all(&app).await;
    assert!(worker.store.get(&theirs).is_ok());

    let response = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/admin/users/wang/areas",
            Some(&admin),
            &json!({ "areas": [WORKER_GRID] }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let report = worker.sync_all(&app).await;

    assert_eq!(
        report.left_scope,
        vec![sync_core::LeftScope {
            id: theirs,
            code: "scope_changed".into(),
            unsent_changes_kept: false,
        }]
    );
    assert!(worker.store.load(&theirs).unwrap().is_none());
    assert!(
        worker.store.get(&own).is_ok(),
        "what the worker made stays with them"
    );
    // A fresh phone of the same account gets neither removals nor the lost grid's records.
    let mut fresh = Phone::login_as(&app, "wang").await;
    let report = fresh.sync_all(&app).await;
    assert!(report.left_scope.is_empty());
    assert!(fresh.store.load(&theirs).unwrap().is_none());
}

/// A worker's category about to be overruled: in the worker's grid, the worker ("wang")
/// files a complaint that a colleague ("li") holds too; offline, the worker reclassifies it as
/// drainage while the desk (`desk`, a token) accepts it as lighting. The colleague's note first
/// gives the desk's edit more operations than the worker's, so the desk's value is the one
/// every replica keeps. Returns both phones (the worker's changes not yet synced) and the
/// record.
pub async fn category_overruled_by_the_desk(app: &TestApp, desk: &str) -> (Phone, Phone, RecordId) {
    let mut worker = Phone::new(app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut colleague = Phone::new(app, "li", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("路灯不亮", centre(WORKER_GRID), Crs::Wgs84);
    worker.sync_all(app).await;
    colleague.sync_all(app).await;
    colleague.store.add_note(&id, "灯杆有点歪").unwrap();
    colleague.sync_all(app).await;
    worker
        .store
        .update(&id, |r| {
            r.category = "municipal.drainage".into();
            Ok(())
        })
        .unwrap();
    let accepted = app
        .post(
            &format!("/api/v1/records/{id}/transitions"),
            Some(desk),
            &json!({ "action": "accept", "category": "municipal.lighting" }),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    (worker, colleague, id)
}

#[both_backends]
async fn a_workers_category_overruled_by_the_desk_is_told_to_the_worker_and_in_the_timeline(
    app: TestApp,
) {
    app.load_demo_map().await;
    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let (mut worker, mut colleague, id) = category_overruled_by_the_desk(&app, &desk).await;
    let report = worker.sync_all(&app).await;

    assert_eq!(report.conflicts.len(), 1, "{report:?}");
    let told = &report.conflicts[0];
    assert_eq!(
        (
            told.id,
            told.field.as_str(),
            &told.kept,
            told.kept_by.as_deref(),
            &told.overruled,
            told.overruled_by.as_deref()
        ),
        (
            id,
            "category",
            &json!("municipal.lighting"),
            Some("zhou"),
            &json!("municipal.drainage"),
            Some("wang")
        )
    );
    assert_eq!(
        worker.store.get(&id).unwrap().category,
        "municipal.lighting"
    );
    // Staff read it in the timeline, as the worker's phone does.
    let record = app.record(&desk, &id.to_string()).await;
    let notes: Vec<&str> = record["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "conflict")
        .map(|e| e["note"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        vec!["同时修改「分类」：保留 路灯照明（zhou），未采用 排水管网（wang）"]
    );
    let timeline = &worker.store.get(&id).unwrap().timeline;
    assert!(timeline.iter().any(|e| e.kind == "conflict"));
    // The colleague, who set nothing, is told of no conflict.
    assert!(colleague.sync_all(&app).await.conflicts.is_empty());
}

#[both_backends]
async fn a_worker_drops_their_own_photo_the_server_never_received_and_no_one_elses(app: TestApp) {
    app.load_demo_map().await;
    let mut worker = Phone::new(&app, "wang", Role::GridWorker, &[WORKER_GRID]).await;
    let mut colleague = Phone::new(&app, "li", Role::GridWorker, &[WORKER_GRID]).await;
    let id = worker.complaint_at("Graffiti", centre(WORKER_GRID), Crs::Wgs84);
    let wrong = worker
        .store
        .attach(&id, &jpeg(3_000), "image/jpeg", None)
        .unwrap();
    let kept = worker
        .store
        .attach(&id, &jpeg(4_000), "image/jpeg", None)
        .unwrap();
    // The record goes up with both photos named; their bytes wait in the queue.
    worker.sync_all(&app).await;
    colleague.sync_all(&app).await;

    worker.store.drop_photo(&id, &wrong.sha256).unwrap();
    let report = worker.sync_all(&app).await;
    assert!(report.rejected.is_empty(), "{report:?}");
    // A colleague may not take the worker's photo off the record.
    colleague
        .store
        .update(&id, |r| {
            r.attachments.remove(&kept.sha256);
            Ok(())
        })
        .unwrap();
    let refused = colleague.sync_all(&app).await;

    let desk = app.user_token("zhou", Role::Dispatcher, &["2203"]).await;
    let record = app.record(&desk, &id.to_string()).await;
    let attachments: Vec<&String> = record["attachments"].as_object().unwrap().keys().collect();
    assert_eq!(attachments, vec![&kept.sha256]);
    assert!(
        record["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "photo_dropped" && e["actor"] == "wang")
    );
    assert_eq!(refused.rejected.len(), 1, "{refused:?}");
    assert_eq!(refused.rejected[0].code, "forbidden_field");
    assert!(
        colleague
            .store
            .get(&id)
            .unwrap()
            .attachments
            .contains_key(&kept.sha256)
    );
}
