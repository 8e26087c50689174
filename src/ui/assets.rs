//! The UI's static files, inside the binary, served under content-hashed
//! names (`/ui/assets/htmx.d6fdc75f.js`) with a year's `immutable` cache: a
//! changed file gets a new name, so a browser never holds a stale one, and
//! an old name is a 404, never another file's bytes. htmx is also
//! vendored gzip-compressed (its npm package's own `htmx.min.js.gz`, the
//! same bytes once inflated, which a test checks): a browser that accepts
//! gzip gets that, a third of the size.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// A file served.
#[derive(Debug)]
struct Asset {
    /// The name templates ask for.
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
    /// The same file gzip-compressed, when vendored so.
    gzip: Option<&'static [u8]>,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11/htmx.min.js"),
        gzip: Some(include_bytes!("../../assets/vendor/htmx-2.0.11/htmx.min.js.gz")),
    },
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
        gzip: None,
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
        gzip: None,
    },
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

/// Whether `Accept-Encoding` admits gzip (`gzip` or `*`, not with `q=0`).
fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let q_zero = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

/// `GET /ui/assets/{file}`.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = URLS.iter().position(|u| u.rsplit('/').next() == Some(file.as_str())) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = &ASSETS[i];
    let gzip = a.gzip.filter(|_| accepts_gzip(&headers));
    let mut res = gzip.unwrap_or(a.bytes).into_response();
    let h = res.headers_mut();
    if a.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if gzip.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
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

    #[test]
    fn a_gzip_twin_inflates_to_the_same_bytes() {
        use std::io::Write;
        for a in ASSETS {
            let Some(gz) = a.gzip else { continue };
            let mut child = std::process::Command::new("gzip")
                .arg("-dc")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("gzip (Debian's gzip package) inflates the vendored file");
            child.stdin.take().unwrap().write_all(gz).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success() && out.stdout == a.bytes, "{} and its .gz differ", a.name);
        }
    }

    #[test]
    fn gzip_is_sent_only_to_who_accepts_it() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        for yes in ["gzip", "gzip, deflate, br, zstd", "br;q=1.0, GZIP;q=0.5", "*"] {
            assert!(with(yes), "{yes}");
        }
        for no in ["identity", "br", "gzip;q=0", "gzip; q=0.0, br", "gzipx"] {
            assert!(!with(no), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
