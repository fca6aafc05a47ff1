//! The worker's part of the hazard loop, taken on the phone offline and carried by sync: a
//! returned report amended and submitted again, a rectified hazard re-inspected on site. The
//! phone lists what needs its worker from its own store; the server takes each step as the
//! worker's transition, or refuses it and the phone keeps the refused copy.

use gridsync_server::domain::Role;
use serde_json::{Value, json};
use sync_core::{
    Crs, FieldStep, ListFilter, Location, RecordBuilder, RecordId, RiskLevel, Status, Task,
};

use crate::helpers::TestApp;
use crate::sync::{Phone, centre};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";

/// The grid's two workers with their phones, its leader, the desk and the housing bureau.
struct Loop {
    app: TestApp,
    wang: Phone,
    liu: Phone,
    leader: String,
    desk: String,
    housing: String,
}

impl Loop {
    async fn new(app: TestApp) -> Loop {
        app.load_demo_map().await;
        Loop {
            wang: Phone::new(&app, "wang", Role::GridWorker, &[GRID]).await,
            liu: Phone::new(&app, "liu", Role::GridWorker, &[GRID]).await,
            leader: app.user_token("li", Role::GridLeader, &[GRID]).await,
            desk: app.user_token("zhou", Role::Dispatcher, &["2203"]).await,
            housing: app
                .department_account("housing", "住建局", &["2203"], "hou")
                .await,
            app,
        }
    }

    /// A hazard wang records on the phone and syncs.
    async fn hazard(&mut self) -> RecordId {
        let (lon, lat) = centre(GRID);
        let mut record = RecordBuilder::risk_inspection(
            "楼道堆放杂物",
            "fire",
            RiskLevel::High,
            self.wang.store.writer(),
        )
        .location(Location {
            lon,
            lat,
            accuracy_m: Some(5.0),
            crs: Crs::Wgs84,
        })
        .build();
        record.inspection.as_mut().unwrap().findings = "三单元楼道堆放纸箱".into();
        let id = self.wang.store.create(&record).unwrap();
        self.wang.sync_all(&self.app).await;
        id
    }

    /// A transition over HTTP, which must succeed.
    async fn step(&self, id: RecordId, token: &str, body: Value) {
        let response = self
            .app
            .post(
                &format!("/api/v1/records/{id}/transitions"),
                Some(token),
                &body,
            )
            .await;
        let status = response.status();
        assert_eq!(status, 200, "{body} → {}", response.text().await.unwrap());
    }

    /// Verified, escalated, dispatched to housing and reported rectified.
    async fn rectify(&self, id: RecordId) {
        self.step(id, &self.leader, json!({ "action": "verify" }))
            .await;
        self.step(
            id,
            &self.leader,
            json!({ "action": "escalate", "note": "需物业整改" }),
        )
        .await;
        self.step(
            id,
            &self.desk,
            json!({ "action": "dispatch", "lead": "housing" }),
        )
        .await;
        self.step(
            id,
            &self.housing,
            json!({ "action": "report_rectification", "note": "已清理" }),
        )
        .await;
    }

    /// The server's copy, as the desk reads it.
    async fn server(&self, id: RecordId) -> Value {
        self.app
            .get(&format!("/api/v1/records/{id}"), Some(&self.desk))
            .await
            .json()
            .await
            .unwrap()
    }
}

fn waiting(phone: &Phone) -> Vec<(RecordId, Option<Task>)> {
    let filter = ListFilter {
        needs_action: Some(true),
        ..ListFilter::default()
    };
    phone
        .store
        .list(&filter)
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.task))
        .collect()
}

#[both_backends]
async fn a_worker_amends_a_returned_report_and_re_inspects_it_offline_through_sync(app: TestApp) {
    let mut field = Loop::new(app).await;
    let id = field.hazard().await;

    // The leader returns the report; the worker's next sync brings it as work to do.
    field
        .step(
            id,
            &field.leader,
            json!({ "action": "return_to_worker", "note": "请补充楼栋号" }),
        )
        .await;
    let report = field.wang.sync_all(&field.app).await;
    assert_eq!(report.needs_action, vec![id]);
    assert_eq!(waiting(&field.wang), vec![(id, Some(Task::Amend))]);
    assert!(
        waiting(&field.liu).is_empty(),
        "another worker's returned report is not liu's to amend"
    );

    // Offline: amend the findings and submit again. The task leaves the list at once.
    field
        .wang
        .store
        .patch(
            &id,
            serde_json::from_value(json!({ "findings": "三单元2号楼道堆放纸箱" })).unwrap(),
        )
        .unwrap();
    field
        .wang
        .store
        .take_step(&id, FieldStep::Resubmit, "已补充楼栋号")
        .unwrap();
    assert!(waiting(&field.wang).is_empty());

    // One sync: the server takes the step and the phone learns the outcome in the same exchange.
    let report = field.wang.sync(&field.app).await;
    assert_eq!(report.acknowledged, vec![id]);
    let phone = field.wang.store.get(&id).unwrap();
    assert_eq!(phone.workflow.status, Status::Received);
    assert!(phone.pending_steps().is_empty(), "the step is answered");
    let server = field.server(id).await;
    assert_eq!(server["workflow"]["status"], "received");
    assert_eq!(
        server["inspection"]["findings"], "三单元2号楼道堆放纸箱",
        "the amendment arrived with the step"
    );
    let answer = server["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "resubmitted")
        .expect("the transition's event");
    assert_eq!(
        (answer["actor"].as_str(), answer["note"].as_str()),
        (Some("wang"), Some("已补充楼栋号"))
    );
    assert!(answer["id"].as_str().unwrap().ends_with("/answer"));

    // Rectified by the department: both workers of the grid are asked to re-inspect.
    field.rectify(id).await;
    assert_eq!(field.wang.sync_all(&field.app).await.needs_action, vec![id]);
    assert_eq!(field.liu.sync_all(&field.app).await.needs_action, vec![id]);
    assert_eq!(waiting(&field.wang), vec![(id, Some(Task::Reinspect))]);

    // On site it is not fixed: back to the department with a fresh deadline, counted.
    field
        .wang
        .store
        .take_step(&id, FieldStep::ReinspectedNotFixed, "又堆上了")
        .unwrap();
    field.wang.sync(&field.app).await;
    let server = field.server(id).await;
    assert_eq!(
        (
            server["workflow"]["status"].as_str(),
            server["workflow"]["returns"].as_i64()
        ),
        (Some("dispatched"), Some(1))
    );
    assert_eq!(
        field.wang.store.get(&id).unwrap().workflow.status,
        Status::Dispatched
    );
    assert!(waiting(&field.wang).is_empty());

    // Rectified again, and this time fixed: closed, and nothing waits on any phone.
    field
        .step(
            id,
            &field.housing,
            json!({ "action": "report_rectification", "note": "已清理并加装围挡" }),
        )
        .await;
    field.wang.sync_all(&field.app).await;
    field
        .wang
        .store
        .take_step(&id, FieldStep::ReinspectedFixed, "已清理")
        .unwrap();
    field.wang.sync(&field.app).await;
    assert_eq!(field.server(id).await["workflow"]["status"], "closed");
    field.liu.sync_all(&field.app).await;
    assert!(waiting(&field.wang).is_empty());
    assert!(waiting(&field.liu).is_empty());
    assert_eq!(
        field.liu.store.get(&id).unwrap().workflow.status,
        Status::Closed
    );
}

#[both_backends]
async fn the_second_re_inspection_of_a_closed_hazard_is_refused_and_kept_on_the_phone(
    app: TestApp,
) {
    let mut field = Loop::new(app).await;
    let id = field.hazard().await;
    field.rectify(id).await;
    field.wang.sync_all(&field.app).await;
    field.liu.sync_all(&field.app).await;

    // Both re-inspect offline; wang syncs first and closes it.
    field
        .wang
        .store
        .take_step(&id, FieldStep::ReinspectedFixed, "已清理")
        .unwrap();
    field
        .liu
        .store
        .take_step(&id, FieldStep::ReinspectedNotFixed, "还有纸箱")
        .unwrap();
    field.wang.sync(&field.app).await;
    let report = field.liu.sync(&field.app).await;

    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].code, "invalid_transition");
    let kept = field.liu.store.rejected().unwrap();
    assert_eq!(
        (kept.len(), kept[0].code.as_str()),
        (1, "invalid_transition")
    );
    let copy = field.liu.store.get(&id).unwrap();
    assert_eq!(
        copy.workflow.status,
        Status::Closed,
        "reset to the server's copy"
    );
    assert!(copy.pending_steps().is_empty());
    let server = field.server(id).await;
    assert_eq!(
        (
            server["workflow"]["status"].as_str(),
            server["workflow"]["returns"].as_i64()
        ),
        (Some("closed"), Some(0))
    );
}

#[both_backends]
async fn steps_the_lifecycle_would_not_take_are_refused_and_change_nothing(app: TestApp) {
    let mut field = Loop::new(app).await;
    let id = field.hazard().await;
    let mut leader_phone = Phone::new(&field.app, "zhang", Role::GridLeader, &[GRID]).await;
    leader_phone.sync_all(&field.app).await;

    // The store refuses a step the record does not wait for.
    let refused = field
        .wang
        .store
        .take_step(&id, FieldStep::ReinspectedFixed, "")
        .unwrap_err();
    assert!(
        matches!(refused, sync_core::Error::NotWaiting { .. }),
        "{refused:?}"
    );

    field.rectify(id).await;
    field.wang.sync_all(&field.app).await;
    leader_phone.sync_all(&field.app).await;
    let before = field.server(id).await;

    // Written by hand, as another app might, each is refused with its code. A leader does not
    // re-inspect (the role is the worker's); nobody steps in another's name, writes the
    // server's answer, or takes a step out of order.
    push(
        &mut leader_phone,
        id,
        "zhang",
        FieldStep::ReinspectedFixed.kind(),
        None,
    );
    assert_eq!(
        leader_phone.sync(&field.app).await.rejected[0].code,
        "forbidden"
    );
    push(
        &mut field.wang,
        id,
        "li",
        FieldStep::ReinspectedFixed.kind(),
        None,
    );
    assert_eq!(
        field.wang.sync(&field.app).await.rejected[0].code,
        "wrong_author"
    );
    push(&mut field.wang, id, "wang", "resubmitted", Some("x/answer"));
    assert_eq!(
        field.wang.sync(&field.app).await.rejected[0].code,
        "forbidden_event"
    );
    push(
        &mut field.wang,
        id,
        "wang",
        FieldStep::Resubmit.kind(),
        None,
    );
    assert_eq!(
        field.wang.sync(&field.app).await.rejected[0].code,
        "invalid_transition"
    );

    let after = field.server(id).await;
    assert_eq!(after["workflow"], before["workflow"]);
    assert_eq!(after["timeline"], before["timeline"]);
    assert_eq!(
        waiting(&field.wang),
        vec![(id, Some(Task::Reinspect))],
        "the task is still there"
    );
}

/// Appends an event of `kind` in `actor`'s name straight into the phone's copy.
fn push(phone: &mut Phone, id: RecordId, actor: &str, kind: &str, event_id: Option<&str>) {
    phone
        .store
        .update(&id, |r| {
            sync_core::push_event(r, actor, kind, "");
            if let Some(event_id) = event_id {
                r.timeline.last_mut().unwrap().id = event_id.into();
            }
            Ok(())
        })
        .unwrap();
}
