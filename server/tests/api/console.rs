//! The web console: its files (embedded in the binary, served to anyone) and its sessions
//! (a cookie the page's scripts cannot read, a CSRF token on every state change, a login form
//! that works without script, a logout that ends the session on the server).

use gridsync_server::domain::Role;
use gridsync_server::routes::console::{APP, ASSETS, MANIFEST};
use gridsync_server::session::CONTENT_SECURITY_POLICY;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem};
use gridsync_test_macros::both_backends;

#[both_backends]
async fn the_console_libraries_are_served_as_embedded_and_cached_by_their_hash(app: TestApp) {
    let mut compressed = 0;
    for asset in APP.iter().chain(ASSETS) {
        let url = app.url(&format!("/console/assets/{}", asset.name));
        let response = app.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", asset.name);
        assert_eq!(response.headers()["content-type"], asset.content_type);
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(&bytes[..], asset.bytes, "{}", asset.name);
        let sha = sync_core::sha256_hex(&bytes);
        assert_eq!(etag, format!("\"{sha}\""));
        assert!(APP.iter().any(|a| a.name == asset.name) || MANIFEST.contains(&sha));

        let again = app
            .client
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);

        let gzipped = app
            .client
            .get(&url)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gzipped.headers()["content-encoding"], "gzip");
        if !asset.name.ends_with(".txt") {
            compressed += gzipped.bytes().await.unwrap().len();
        }
    }
    // What a first load of the console's libraries costs over the wire.
    assert!(
        compressed <= 1_500_000,
        "{compressed} bytes of compressed JavaScript and CSS"
    );
    let missing = app
        .client
        .get(app.url("/console/assets/jquery.js"))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not_found").await;
}

/// A browser without cookie jar or redirects: the test sees every Set-Cookie and Location.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `gs_session=...` pair of a response's Set-Cookie, and the whole header.
fn session_cookie(headers: &HeaderMap) -> Option<(String, String)> {
    headers.get_all(SET_COOKIE).iter().find_map(|value| {
        let value = value.to_str().ok()?;
        let pair = value.split(';').next()?.trim();
        pair.starts_with("gs_session=")
            .then(|| (pair.to_string(), value.to_string()))
    })
}

/// The value of `<meta name="NAME" content="...">` in a page.
fn meta(page: &str, name: &str) -> String {
    let start = page
        .find(&format!("<meta name=\"{name}\" content=\""))
        .unwrap_or_else(|| panic!("no meta {name} in {page}"));
    let rest = &page[start..];
    let rest = &rest[rest.find("content=\"").unwrap() + 9..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Logs in through the form; the session cookie pair.
async fn form_login(app: &TestApp, username: &str) -> String {
    let response = browser()
        .post(app.url("/console/login"))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    session_cookie(response.headers())
        .expect("a session cookie")
        .0
}

/// Logs in through the form and opens the console's page: the cookie pair and the page's CSRF
/// token.
async fn session(app: &TestApp, username: &str) -> (String, String) {
    let cookie = form_login(app, username).await;
    let page = with_cookie(app, "/console/", &cookie)
        .await
        .text()
        .await
        .unwrap();
    let csrf = meta(&page, "csrf-token");
    (cookie, csrf)
}

/// A GET with the session cookie and nothing else.
async fn with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

#[both_backends]
async fn a_visitor_without_a_session_is_sent_to_the_login_form(app: TestApp) {
    let browser = browser();
    let root = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        (root.status().as_u16(), location(&root)),
        (303, "/console/")
    );
    let console = browser.get(app.url("/console/")).send().await.unwrap();
    assert_eq!(
        (console.status().as_u16(), location(&console)),
        (303, "/console/login")
    );
    let form = browser.get(app.url("/console/login")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(
        form.headers()["content-security-policy"],
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(form.headers()["x-frame-options"], "DENY");
    let page = form.text().await.unwrap();
    assert!(page.contains("<html lang=\"zh-CN\">"), "{page}");
    assert!(page.contains("action=\"/console/login\""), "{page}");
    assert!(
        !page.contains("<script"),
        "the login form needs no script: {page}"
    );
    assert!(
        !page.contains("演示账号"),
        "demo accounts are shown only on a demo server"
    );
}

#[both_backends]
async fn the_login_form_opens_a_session_whose_cookie_no_script_can_read(app: TestApp) {
    app.add_user("root", Role::Admin, &[]).await;
    let response = browser()
        .post(app.url("/console/login"))
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/console/");
    let (pair, set_cookie) = session_cookie(response.headers()).unwrap();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(set_cookie.contains("Max-Age=3600"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");

    let page = browser()
        .get(app.url("/console/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    let user: Value = serde_json::from_str(&meta(&page, "gs-user").replace("&#34;", "\"")).unwrap();
    assert_eq!(user["username"], "root");
    assert_eq!(user["role"], "admin");
    assert!(
        !page.contains(pair.trim_start_matches("gs_session=")),
        "the page never holds the session token itself"
    );
    assert!(
        !page.contains("<script>") && page.contains("<script type=\"module\" src="),
        "no inline script: {page}"
    );
    // The form sends a logged-in browser on to the console.
    let form = browser()
        .get(app.url("/console/login"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (form.status().as_u16(), location(&form)),
        (303, "/console/")
    );
}

#[both_backends]
async fn behind_https_the_session_cookie_is_secure(app: TestApp) {
    app.add_user("root", Role::Admin, &[]).await;
    let response = browser()
        .post(app.url("/console/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let (_, set_cookie) = session_cookie(response.headers()).unwrap();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
}

#[both_backends]
async fn a_wrong_password_shows_the_form_again_with_the_typed_name_as_text(app: TestApp) {
    app.add_user("root", Role::Admin, &[]).await;
    let typed = "<img src=x onerror=alert(1)>";
    let response = browser()
        .post(app.url("/console/login"))
        .form(&[("username", typed), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(session_cookie(response.headers()).is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("用户名或密码错误"), "{page}");
    assert!(!page.contains(typed), "the typed name is escaped: {page}");
    assert!(
        page.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{page}"
    );

    let wrong = browser()
        .post(app.url("/console/login"))
        .form(&[("username", "root"), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = browser()
        .post(app.url("/console/login"))
        .form(&[("username", "root")])
        .send()
        .await
        .unwrap();
    assert_problem(missing, 400, "invalid_form").await;
}

#[both_backends]
async fn a_login_form_posted_from_another_site_is_refused(app: TestApp) {
    app.add_user("root", Role::Admin, &[]).await;
    let response = browser()
        .post(app.url("/console/login"))
        .header("origin", "http://evil.example")
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(session_cookie(response.headers()).is_none());
    let own = browser()
        .post(app.url("/console/login"))
        .header("origin", &app.address)
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 303);
}

#[both_backends]
async fn a_session_changes_state_only_with_its_csrf_token(app: TestApp) {
    app.load_demo_map().await;
    app.add_user("root", Role::Admin, &[]).await;
    let (cookie, csrf) = session(&app, "root").await;
    let new_user = json!({
        "username": "li",
        "password": "long-enough",
        "role": "grid_leader",
        "areas": ["220302"],
    });

    // Reads need only the cookie.
    let me = with_cookie(&app, "/api/v1/auth/me", &cookie).await;
    assert_eq!(me.status(), 200);

    // A write without the header, or with another session's, is refused and changes nothing.
    for header in [None, Some("0".repeat(64)), Some(csrf[..32].to_string())] {
        let mut request = browser()
            .post(app.url("/api/v1/admin/users"))
            .header("cookie", &cookie)
            .json(&new_user);
        if let Some(header) = header {
            request = request.header("x-csrf-token", header);
        }
        assert_problem(request.send().await.unwrap(), 403, "csrf_failed").await;
    }
    assert!(app.store.user_by_name("li").await.unwrap().is_none());

    let created = browser()
        .post(app.url("/api/v1/admin/users"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&new_user)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(app.store.user_by_name("li").await.unwrap().is_some());

    // The cookie is for the API only: the OGC API still wants a token or Basic.
    let ogc = with_cookie(&app, "/ogc/collections", &cookie).await;
    assert_eq!(ogc.status(), 401);
}

#[both_backends]
async fn logging_out_ends_the_session_on_the_server(app: TestApp) {
    app.add_user("root", Role::Admin, &[]).await;
    let (cookie, csrf) = session(&app, "root").await;

    let refused = browser()
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "csrf_failed").await;

    let out = browser()
        .post(app.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let (cleared, set_cookie) = session_cookie(out.headers()).unwrap();
    assert_eq!(cleared, "gs_session=");
    assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");

    // The old cookie, replayed, opens nothing.
    let me = with_cookie(&app, "/api/v1/auth/me", &cookie).await;
    assert_problem(me, 401, "unauthenticated").await;
    let console = with_cookie(&app, "/console/", &cookie).await;
    assert_eq!(location(&console), "/console/login");
}

#[test]
fn openapi_lists_exactly_the_files_the_console_serves() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    let spec: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let parameter = &spec["paths"]["/console/assets/{file}"]["get"]["parameters"][0];
    let mut listed: Vec<String> = parameter["schema"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut served: Vec<String> = APP
        .iter()
        .chain(ASSETS)
        .map(|a| a.name.to_string())
        .collect();
    listed.sort();
    served.sort();
    assert_eq!(listed, served);
}

#[both_backends]
async fn the_pages_name_files_at_a_versioned_address_the_browser_keeps_for_good(app: TestApp) {
    let version = gridsync_server::routes::console::version();
    let form = browser()
        .get(app.url("/console/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains(&format!("href=\"/console/v/{version}/console.css\"")),
        "{form}"
    );
    let kept = browser()
        .get(app.url(&format!("/console/v/{version}/app.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    assert_eq!(
        kept.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let bytes = kept.bytes().await.unwrap();
    assert_eq!(
        &bytes[..],
        APP.iter().find(|a| a.name == "app.js").unwrap().bytes
    );
    // A page from an older build still gets today's file, revalidated.
    let old = browser()
        .get(app.url("/console/v/0123456789abcdef/maplibre-gl-csp.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 200);
    assert_eq!(old.headers()["cache-control"], "no-cache");
    let missing = browser()
        .get(app.url(&format!("/console/v/{version}/jquery.js")))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not_found").await;
}
