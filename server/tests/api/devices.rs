//! Device credentials: a phone names its device at login and gets a long-lived credential with
//! its token; when the token has expired (a week in the mountains), the credential buys a new
//! token and its own successor, without the user's password. Spent credentials, copies, lost
//! answers, other devices, admins' revocations and new passwords.

use gridsync_server::auth::{new_token, token_hash};
use gridsync_server::domain::{Role, now_unix};
use gridsync_server::store::NewDeviceCredential;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};
use gridsync_test_macros::both_backends;

const GRID: &str = "22030200100101";
const DAY: i64 = 86_400;

/// Logs `username` in from `device`; the login's answer.
async fn login_from(app: &TestApp, username: &str, device: &str) -> Value {
    let response = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": username, "password": PASSWORD, "device": device }),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refresh(app: &TestApp, device: &str, credential: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({ "device": device, "credential": credential }),
    )
    .await
}

/// A refresh that must succeed: its answer.
async fn refreshed(app: &TestApp, device: &str, credential: &str) -> Value {
    let response = refresh(app, device, credential).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn credential(answer: &Value) -> String {
    answer["device_credential"]["credential"]
        .as_str()
        .unwrap()
        .to_string()
}

#[both_backends]
async fn a_phone_back_from_eight_days_offline_gets_a_new_token_without_a_password(app: TestApp) {
    app.load_demo_map().await;
    app.add_user("wang", Role::GridWorker, &[GRID]).await;
    let user = app.store.user_by_name("wang").await.unwrap().unwrap();
    // What the phone holds after eight days offline: a token that expired a week ago and the
    // credential it got with it.
    let now = now_unix();
    let (token, held) = (new_token(), "gsd_held-since-the-last-signal");
    app.store
        .insert_token(
            &token_hash(&token),
            user.id,
            now - 8 * DAY,
            now - 8 * DAY + 12 * 3600,
        )
        .await
        .unwrap();
    app.store
        .issue_device_credential(&NewDeviceCredential {
            hash: &token_hash(held),
            user_id: user.id,
            device: "phone-1",
            created_at: now - 8 * DAY,
            expires_at: now + 82 * DAY,
        })
        .await
        .unwrap();
    let expired = app.get("/api/v1/records", Some(&token)).await;
    assert_problem(expired, 401, "unauthenticated").await;

    let answer = refreshed(&app, "phone-1", held).await;

    let fresh = answer["token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/records", Some(fresh)).await.status(), 200);
    assert_eq!(answer["user"]["username"], "wang");
    assert_eq!(answer["device_credential"]["device"], "phone-1");
    assert!(answer["device_credential"]["expires_at"].as_i64().unwrap() >= now + 89 * DAY);
    assert_ne!(
        credential(&answer),
        held,
        "the credential is spent and replaced"
    );
    assert!(answer["contact_key"]["public_key"].is_string());
}

#[both_backends]
async fn a_login_from_a_device_gives_a_credential_that_outlives_the_token(app: TestApp) {
    app.add_user("wang", Role::GridWorker, &[]).await;

    let answer = login_from(&app, "wang", "phone-1").await;
    let plain = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "wang", "password": PASSWORD }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();

    let token_expires = answer["expires_at"].as_i64().unwrap();
    let credential_expires = answer["device_credential"]["expires_at"].as_i64().unwrap();
    assert!(credential_expires - token_expires > 80 * DAY);
    assert!(credential(&answer).starts_with("gsd_"));
    assert!(
        plain.get("device_credential").is_none(),
        "no device, no credential"
    );
    let bad = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "wang", "password": PASSWORD, "device": "a phone" }),
        )
        .await;
    assert_problem(bad, 400, "invalid_device").await;
}

#[both_backends]
async fn a_refresh_that_reached_the_server_twice_leaves_either_answer_usable_but_a_copy_revokes_the_device(
    app: TestApp,
) {
    app.add_user("wang", Role::GridWorker, &[]).await;
    let first = credential(&login_from(&app, "wang", "phone-1").await);

    // The same refresh reaches the server twice — sent again after its answer was lost, or
    // duplicated on the link — and the phone holds whichever answer reached it: that one works,
    // and once it is used the other is spent.
    let kept = credential(&refreshed(&app, "phone-1", &first).await);
    let other = credential(&refreshed(&app, "phone-1", &first).await);
    let devices = app
        .get(
            "/api/v1/admin/users/wang/devices",
            Some(&app.user_token("ops", Role::Admin, &[]).await),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        devices["devices"].as_array().map(Vec::len),
        Some(1),
        "one device however many answers: {devices}"
    );
    let next = credential(&refreshed(&app, "phone-1", &kept).await);
    assert_problem(
        refresh(&app, "phone-1", &other).await,
        401,
        "invalid_device_credential",
    )
    .await;
    // The other way round on a second phone: the later answer reached it.
    let second = credential(&login_from(&app, "wang", "phone-2").await);
    let lost = credential(&refreshed(&app, "phone-2", &second).await);
    let again = credential(&refreshed(&app, "phone-2", &second).await);
    refreshed(&app, "phone-2", &again).await;
    assert_problem(
        refresh(&app, "phone-2", &lost).await,
        401,
        "invalid_device_credential",
    )
    .await;

    // Then a copy of phone-1's spent `first` turns up.
    assert_problem(
        refresh(&app, "phone-1", &first).await,
        401,
        "credential_reused",
    )
    .await;
    // Every credential of that device is revoked: the user logs in with the password again.
    assert_problem(
        refresh(&app, "phone-1", &next).await,
        401,
        "invalid_device_credential",
    )
    .await;
    login_from(&app, "wang", "phone-1").await;
}

#[both_backends]
async fn a_credential_works_only_on_its_device_until_an_admin_or_a_new_password_ends_it(
    app: TestApp,
) {
    app.add_user("wang", Role::GridWorker, &[]).await;
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let held = credential(&login_from(&app, "wang", "phone-1").await);
    let other = credential(&login_from(&app, "wang", "tablet-2").await);

    assert_problem(
        refresh(&app, "tablet-2", &held).await,
        401,
        "invalid_device_credential",
    )
    .await;
    let listed: Value = app
        .get("/api/v1/admin/users/wang/devices", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let devices: Vec<&str> = listed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["phone-1", "tablet-2"]);

    // The phone is lost: the admin revokes it, and only it.
    let revoked = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/v1/admin/users/wang/devices/phone-1",
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert_problem(
        refresh(&app, "phone-1", &held).await,
        401,
        "invalid_device_credential",
    )
    .await;
    let other = credential(&refreshed(&app, "tablet-2", &other).await);
    let worker = app.user_token("li", Role::GridWorker, &[]).await;
    let refused = app
        .get("/api/v1/admin/users/wang/devices", Some(&worker))
        .await;
    assert_problem(refused, 403, "forbidden").await;

    // A new password ends every device's credential.
    let reset = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/wang",
            Some(&admin),
            &json!({ "password": "another-horse-battery" }),
        )
        .await;
    assert_eq!(reset.status(), 200);
    assert_problem(
        refresh(&app, "tablet-2", &other).await,
        401,
        "invalid_device_credential",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_limited_per_account_so_a_shared_address_does_not_lock_out_a_county() {
    for backend in [
        crate::helpers::Backend::Sqlite,
        crate::helpers::Backend::Postgres,
    ] {
        let app = TestApp::spawn_with(backend, |s| {
            s.login_rate_per_minute = 100;
            s.login_account_rate_per_minute = 3;
        })
        .await;
        app.add_user("wang", Role::GridWorker, &[]).await;
        app.add_user("li", Role::GridWorker, &[]).await;
        let guess = json!({ "username": "wang", "password": "a guess" });
        for _ in 0..3 {
            let wrong = app.post("/api/v1/auth/login", None, &guess).await;
            assert_eq!(wrong.status(), 401);
        }

        // The guessed account is held, even with its right password; the others, from the
        // same address, log in.
        let held = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "username": "WANG", "password": PASSWORD }),
            )
            .await;
        assert_eq!(held.status(), 429);
        assert!(held.headers().contains_key("retry-after"));
        for _ in 0..3 {
            let other = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    &json!({ "username": "li", "password": PASSWORD }),
                )
                .await;
            assert_eq!(other.status(), 200);
        }
    }
}
