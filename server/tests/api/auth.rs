use gridsync_server::auth::{new_token, token_hash};
use gridsync_server::domain::{Role, now_unix};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};
use gridsync_test_macros::both_backends;

#[both_backends]
async fn a_user_logs_in_and_sees_who_they_are(app: TestApp) {
    app.add_user("wang", Role::GridWorker, &["22030200100101"])
        .await;

    let response = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "wang", "password": PASSWORD }),
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_at"].as_i64().unwrap() > now_unix());
    let token = body["token"].as_str().unwrap();
    let me: Value = app
        .get("/api/v1/auth/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "wang");
    assert_eq!(me["role"], "grid_worker");
    assert_eq!(me["areas"], json!(["22030200100101"]));
    assert!(me.get("password_hash").is_none());
}

#[both_backends]
async fn a_wrong_password_or_unknown_user_is_refused_with_the_same_401(app: TestApp) {
    app.add_user("wang", Role::GridWorker, &[]).await;

    let wrong = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "wang", "password": "nope-nope" }),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "li", "password": PASSWORD }),
        )
        .await;

    assert_problem(wrong, 401, "invalid_credentials").await;
    assert_problem(unknown, 401, "invalid_credentials").await;
}

#[both_backends]
async fn a_request_without_a_valid_token_is_refused_with_401(app: TestApp) {
    let missing = app.get("/api/v1/auth/me", None).await;
    let bogus = app.get("/api/v1/auth/me", Some("gst_not-a-token")).await;

    assert_eq!(missing.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_problem(missing, 401, "unauthenticated").await;
    assert_problem(bogus, 401, "unauthenticated").await;
}

#[both_backends]
async fn a_logged_out_token_no_longer_works(app: TestApp) {
    let token = app.user_token("wang", Role::GridWorker, &[]).await;
    let other = app.login("wang").await;

    let response = app
        .post("/api/v1/auth/logout", Some(&token), &json!({}))
        .await;

    assert_eq!(response.status(), 204);
    assert_problem(
        app.get("/api/v1/auth/me", Some(&token)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&other)).await.status(),
        200,
        "other sessions live on"
    );
}

#[both_backends]
async fn an_expired_token_is_refused(app: TestApp) {
    app.add_user("wang", Role::GridWorker, &[]).await;
    let user = app.store.user_by_name("wang").await.unwrap().unwrap();
    let token = new_token();
    let now = now_unix();
    app.store
        .insert_token(&token_hash(&token), user.id, now - 7200, now - 3600)
        .await
        .unwrap();

    let response = app.get("/api/v1/auth/me", Some(&token)).await;

    assert_problem(response, 401, "unauthenticated").await;
}

#[both_backends]
async fn an_admin_can_revoke_every_token_of_an_account(app: TestApp) {
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let first = app.user_token("wang", Role::GridWorker, &[]).await;
    let second = app.login("wang").await;

    let response = app
        .post(
            "/api/v1/admin/users/wang/revoke-tokens",
            Some(&admin),
            &json!({}),
        )
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["revoked"], 2);
    assert_problem(
        app.get("/api/v1/auth/me", Some(&first)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.get("/api/v1/auth/me", Some(&second)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&admin)).await.status(), 200);
}

#[both_backends]
async fn a_deactivated_account_cannot_log_in_and_its_tokens_stop_working(app: TestApp) {
    let admin = app.user_token("root", Role::Admin, &[]).await;
    let token = app.user_token("wang", Role::GridWorker, &[]).await;

    let response = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/admin/users/wang",
            Some(&admin),
            &json!({ "active": false }),
        )
        .await;

    assert_eq!(response.status(), 200);
    assert_problem(
        app.get("/api/v1/auth/me", Some(&token)).await,
        401,
        "unauthenticated",
    )
    .await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "username": "wang", "password": PASSWORD }),
        )
        .await;
    assert_problem(login, 401, "invalid_credentials").await;
}
