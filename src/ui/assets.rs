//! The UI's static files, inside the binary, served under content-hashed
//! names (`/ui/assets/htmx.d6fdc75f.js`) with a year's `immutable` cache: a
//! changed file gets a new name, so a browser never holds a stale one, and
//! an old name is a 404, never another file's bytes.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A file served.
#[derive(Debug)]
struct Asset {
    /// The name templates ask for.
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11/htmx.min.js"),
    },
    Asset { name: "app.js", mime: "text/javascript; charset=utf-8", bytes: include_bytes!("../../assets/app.js") },
    Asset { name: "app.css", mime: "text/css; charset=utf-8", bytes: include_bytes!("../../assets/app.css") },
];

/// Each asset's served path, by position in `ASSETS`: its stem, the first
/// 8 hex digits of its SHA-256, its extension.
static URLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let h = hex::encode(&Sha256::digest(a.bytes)[..4]);
            let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
            format!("/ui/assets/{stem}.{h}.{ext}")
        })
        .collect()
});

/// The served path of the asset templates call `name` (empty for an
/// unknown name, which a test rules out).
#[must_use]
pub fn url(name: &str) -> &'static str {
    ASSETS.iter().position(|a| a.name == name).and_then(|i| URLS.get(i)).map_or("", String::as_str)
}

/// `GET /ui/assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(i) = URLS.iter().position(|u| u.rsplit('/').next() == Some(file.as_str())) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = &ASSETS[i];
    let mut res = a.bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_hashed_url() {
        for a in ASSETS {
            let u = url(a.name);
            assert!(u.starts_with("/ui/assets/") && u.len() > "/ui/assets/".len() + 9, "{u}");
        }
        assert_eq!(url("nope"), "");
    }
}
