//! The console's browser libraries, embedded in the binary and served to anyone.

use gridsync_server::routes::console::{ASSETS, MANIFEST};

use crate::helpers::{TestApp, assert_problem};
use gridsync_test_macros::both_backends;

#[both_backends]
async fn the_console_libraries_are_served_as_embedded_and_cached_by_their_hash(app: TestApp) {
    let mut compressed = 0;
    for asset in ASSETS {
        let url = app.url(&format!("/console/assets/{}", asset.name));
        let response = app.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", asset.name);
        assert_eq!(response.headers()["content-type"], asset.content_type);
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(&bytes[..], asset.bytes, "{}", asset.name);
        let sha = sync_core::sha256_hex(&bytes);
        assert_eq!(etag, format!("\"{sha}\""));
        assert!(MANIFEST.contains(&sha));

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
