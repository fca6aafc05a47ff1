//! Browser sessions for the console: the same tokens as the API, carried in a cookie the page's
//! scripts cannot read, with a CSRF token for every state change.
//!
//! - The console's login form mints an ordinary token ([`crate::auth::issue_token`]) and sets it
//!   as the `gs_session` cookie: `HttpOnly` (no script reads it), `SameSite=Strict` (no other
//!   site's page sends it), `Path=/`, `Max-Age` the token's lifetime, and `Secure` when the
//!   request came over HTTPS (directly or as a proxy's `X-Forwarded-Proto` says).
//! - The API accepts that cookie in place of a bearer token on `/api/` paths. A request that
//!   changes state (any method but GET, HEAD and OPTIONS) must also carry `X-CSRF-Token`, which
//!   is derived from the session token ([`csrf_token`]) and written into the console's page; a
//!   page of another origin can neither read it nor send the header without CORS, which this
//!   server never grants. Missing or wrong: 403 `csrf_failed`, before the handler runs.
//! - Logging out revokes the token on the server and clears the cookie, so a copied cookie is
//!   dead too.
//! - Every console page is sent with [`CONTENT_SECURITY_POLICY`]: scripts, styles, images,
//!   workers and connections from this origin only; no inline script, no framing.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::Method;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "gs_session";

/// The header a console request that changes state carries.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The Content-Security-Policy of every console page. `blob:` for images and workers is what
/// MapLibre GL JS uses for decoded tiles; `data:` images for inline icons of the libraries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The console page's policy, with a basemap's tile origin allowed for images and fetches.
pub fn content_security_policy(basemap_origin: Option<&str>) -> String {
    match basemap_origin {
        None => CONTENT_SECURITY_POLICY.to_string(),
        Some(origin) => CONTENT_SECURITY_POLICY
            .replace(
                "img-src 'self' data: blob:",
                &format!("img-src 'self' data: blob: {origin}"),
            )
            .replace(
                "connect-src 'self'",
                &format!("connect-src 'self' {origin}"),
            ),
    }
}

/// The session token a request's cookie carries, if any.
pub fn token(req: &HttpRequest) -> Option<String> {
    let cookie = req.cookie(COOKIE)?;
    let value = cookie.value().trim();
    (!value.is_empty() && value.len() <= 128).then(|| value.to_string())
}

/// The CSRF token of a session: SHA-256 of a fixed label and the session token, hex. Only a
/// holder of the session token can compute it, and the session token cannot be recovered from
/// it, so it may be written into the page.
pub fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gridsync console csrf\0");
    hasher.update(session_token.as_bytes());
    crate::auth::hex(&hasher.finalize())
}

/// Whether a method changes state and so needs the CSRF header with a cookie.
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a request carries the right CSRF header for its session token (compared in constant
/// time).
pub fn csrf_matches(req: &HttpRequest, session_token: &str) -> bool {
    let Some(sent) = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let expected = csrf_token(session_token);
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether the request reached the server over HTTPS (directly, or as the proxy in front says).
fn over_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The cookie that opens a session for `lifetime_secs`.
pub fn cookie(req: &HttpRequest, session_token: &str, lifetime_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, session_token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_https(req))
        .max_age(CookieDuration::seconds(lifetime_secs.max(0)))
        .finish()
}

/// The cookie that clears the session in the browser.
pub fn removal(req: &HttpRequest) -> Cookie<'static> {
    let mut cookie = cookie(req, "", 0);
    cookie.make_removal();
    cookie
}

/// Whether a form post comes from this server's own pages: its `Origin` (which browsers send
/// with every POST) names the host the request was sent to. Without an `Origin` header (not a
/// browser) the post is let through; it still needs the account's password.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    let host = req.connection_info().host().to_string();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(&host))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_basemap_origin_is_allowed_for_images_and_fetches_only() {
        let origin = "https://tiles.example.gov.cn";
        let policy = super::content_security_policy(Some(origin));
        let directive = |name: &str| {
            policy
                .split(';')
                .map(str::trim)
                .find(|d| d.starts_with(name))
                .unwrap_or_default()
                .to_string()
        };
        assert!(directive("img-src").ends_with(origin), "{policy}");
        assert!(directive("connect-src").ends_with(origin), "{policy}");
        assert_eq!(policy.matches(origin).count(), 2, "{policy}");
        assert_eq!(
            super::content_security_policy(None),
            super::CONTENT_SECURITY_POLICY
        );
    }

    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_csrf_token_depends_on_the_session_and_reveals_nothing_of_it() {
        let a = csrf_token("gst_a");
        assert_eq!(a, csrf_token("gst_a"));
        assert_ne!(a, csrf_token("gst_b"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("gst_a"));
    }

    #[test]
    fn only_the_exact_csrf_header_matches() {
        let right = csrf_token("gst_a");
        let request = |value: &str| {
            TestRequest::default()
                .insert_header((CSRF_HEADER, value))
                .to_http_request()
        };
        assert!(csrf_matches(&request(&right), "gst_a"));
        assert!(!csrf_matches(&request(&right), "gst_b"));
        assert!(!csrf_matches(&request(&right[..63]), "gst_a"));
        assert!(!csrf_matches(&request(""), "gst_a"));
        assert!(!csrf_matches(
            &TestRequest::default().to_http_request(),
            "gst_a"
        ));
    }

    #[test]
    fn a_session_cookie_is_http_only_and_strict_and_secure_only_over_https() {
        let plain = TestRequest::default().to_http_request();
        let set = cookie(&plain, "gst_a", 3600).to_string();
        assert!(set.contains("HttpOnly"), "{set}");
        assert!(set.contains("SameSite=Strict"), "{set}");
        assert!(set.contains("Max-Age=3600"), "{set}");
        assert!(!set.contains("Secure"), "{set}");
        let proxied = TestRequest::default()
            .insert_header(("x-forwarded-proto", "https"))
            .to_http_request();
        assert!(
            cookie(&proxied, "gst_a", 3600)
                .to_string()
                .contains("Secure")
        );
    }

    #[test]
    fn a_login_post_from_another_origin_is_refused() {
        let from = |origin: &str| {
            TestRequest::default()
                .insert_header(("host", "gridsync.example:8080"))
                .insert_header(("origin", origin))
                .to_http_request()
        };
        assert!(same_origin(&from("http://gridsync.example:8080")));
        assert!(same_origin(&from("https://GRIDSYNC.example:8080")));
        assert!(!same_origin(&from("http://evil.example")));
        assert!(!same_origin(&from(
            "http://gridsync.example:8080.evil.example"
        )));
        assert!(!same_origin(&from("null")));
        assert!(same_origin(&TestRequest::default().to_http_request()));
    }
}
