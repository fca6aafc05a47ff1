//! The console's browser libraries, embedded in the binary: MapLibre GL JS (its CSP build, with
//! the worker as its own file) for the maps and Apache ECharts for the charts, copied from the
//! npm registry by `scripts/refresh-console-assets.sh` at the versions `console/package-lock.json`
//! pins. `server/console/vendor/MANIFEST` lists each file with its package, version and sha256.
//! Served at `/console/assets/{file}` to anyone (the login page needs them), with a strong ETag
//! from the file's hash; compression is the server's middleware's.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{ApiError, ApiResult};

/// An embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! vendor {
    ($($name:literal => $content_type:literal),+ $(,)?) => {
        /// Every embedded file.
        pub const ASSETS: &[Asset] = &[$(Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/vendor/", $name)),
        }),+];
    };
}

vendor! {
    "maplibre-gl-csp.js" => "text/javascript; charset=utf-8",
    "maplibre-gl-csp-worker.js" => "text/javascript; charset=utf-8",
    "maplibre-gl.css" => "text/css; charset=utf-8",
    "maplibre-gl.LICENSE.txt" => "text/plain; charset=utf-8",
    "echarts.min.js" => "text/javascript; charset=utf-8",
    "echarts.LICENSE.txt" => "text/plain; charset=utf-8",
    "echarts.NOTICE.txt" => "text/plain; charset=utf-8",
}

/// The manifest the refresh script wrote: `file package@version sha256` per line.
pub const MANIFEST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/console/vendor/MANIFEST"
));

/// An embedded file by name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The ETag of a file: its sha256 as the manifest gives it.
fn etag(name: &str) -> Option<&'static str> {
    MANIFEST.lines().find_map(|line| {
        let mut parts = line.split(' ');
        (parts.next() == Some(name)).then(|| parts.nth(1)).flatten()
    })
}

/// `GET /console/assets/{file}`.
pub async fn get_asset(req: HttpRequest, file: web::Path<String>) -> ApiResult<HttpResponse> {
    let Some(asset) = asset(&file) else {
        return Err(ApiError::NotFound(format!(
            "no console asset {:?}",
            file.chars().take(64).collect::<String>()
        )));
    };
    let tag = format!("\"{}\"", etag(asset.name).unwrap_or_default());
    let cached = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    Ok(if cached {
        response.finish()
    } else {
        response.content_type(asset.content_type).body(asset.bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded files are the ones the manifest names, byte for byte, at the versions
    /// `console/package-lock.json` pins.
    #[test]
    fn every_embedded_file_matches_its_manifest_line_and_the_lockfile() {
        let lock: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../console/package-lock.json"
        )))
        .unwrap();
        assert_eq!(MANIFEST.lines().count(), ASSETS.len());
        for asset in ASSETS {
            let line = MANIFEST
                .lines()
                .find(|l| l.split(' ').next() == Some(asset.name))
                .unwrap_or_else(|| panic!("{} is not in the manifest", asset.name));
            let [_, package, sha]: [&str; 3] =
                line.split(' ').collect::<Vec<_>>().try_into().unwrap();
            assert_eq!(sync_core::sha256_hex(asset.bytes), sha, "{}", asset.name);
            let (name, version) = package.rsplit_once('@').unwrap();
            assert_eq!(
                lock["packages"][format!("node_modules/{name}")]["version"],
                version,
                "{name} in the lockfile"
            );
        }
    }
}
