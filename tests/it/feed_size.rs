//! Issue 15, must-be-true 3: the feed answers `Content-Encoding: gzip` when
//! the client accepts it (plain JSON otherwise), and a snapshot of 10,000
//! credentials — shaped like a real site (`feed_data`) — costs at most the
//! documented bytes per entry, plain and compressed
//! ([`idms::store::feed::ENTRY_BYTES_PLAIN`] / [`ENTRY_BYTES_GZIP`]). The
//! 1,000,000-credential figures come from `make bench-doors`.

use std::io::Read;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use idms::store::feed::{ENTRY_BYTES_GZIP, ENTRY_BYTES_PLAIN};
use serde_json::Value;
use tower::ServiceExt;

use crate::api::Api;
use crate::common::Fixture;

const N: usize = 10_000;

/// A service over `n` people with one card each (`feed_data`).
fn site(n: usize) -> Api {
    let fx = Fixture::new();
    let mut c = rusqlite::Connection::open(fx.db_path()).unwrap();
    crate::feed_data::fill(&mut c, n as u64).unwrap();
    drop(c);
    Api::over(fx)
}

/// `GET` the calling controller's feed with an optional `Accept-Encoding`.
async fn get(api: &Api, query: &str, accept: Option<&str>) -> Response<Body> {
    let mut req = Request::get(format!("/api/v1/controllers/me/credentials{query}"))
        .header("authorization", format!("Bearer {}", api.door.1));
    if let Some(a) = accept {
        req = req.header(header::ACCEPT_ENCODING, a);
    }
    api.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
}

async fn bytes(res: Response<Body>) -> Vec<u8> {
    res.into_body().collect().await.unwrap().to_bytes().to_vec()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b).read_to_end(&mut out).unwrap();
    out
}

fn header_of(res: &Response<Body>, name: header::HeaderName) -> Vec<String> {
    res.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_ascii_lowercase()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_is_gzip_when_asked_and_plain_otherwise() {
    let api = site(50);
    let plain = get(&api, "", None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert!(header_of(&plain, header::VARY).iter().any(|v| v.contains("accept-encoding")), "caches must key on it");
    let plain = bytes(plain).await;
    let v: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(v["entries"].as_array().unwrap().len(), 50);

    for accept in ["gzip", "deflate, gzip;q=0.8", "br;q=1.0, gzip;q=0.5, *;q=0.1"] {
        let res = get(&api, "", Some(accept)).await;
        assert_eq!(res.status(), StatusCode::OK, "{accept}");
        assert_eq!(header_of(&res, header::CONTENT_ENCODING), ["gzip"], "{accept}");
        assert!(header_of(&res, header::VARY).iter().any(|v| v.contains("accept-encoding")), "{accept}");
        let zipped = bytes(res).await;
        assert!(zipped.len() < plain.len() / 3, "{accept}: {} of {}", zipped.len(), plain.len());
        assert_eq!(gunzip(&zipped), plain, "{accept}: the same page");
    }
    // What the client does not accept, it does not get.
    for accept in ["identity", "br", "gzip;q=0"] {
        let res = get(&api, "", Some(accept)).await;
        assert_eq!(res.status(), StatusCode::OK, "{accept}");
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none(), "{accept}");
        assert_eq!(bytes(res).await, plain, "{accept}");
    }
    // A refusal is readable JSON too (gzip or not).
    let res = get(&api, "?limit=0", Some("gzip")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let gz = res.headers().get(header::CONTENT_ENCODING).is_some();
    let body = bytes(res).await;
    let body = if gz { gunzip(&body) } else { body };
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["code"], "invalid_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_10000_credentials_costs_the_documented_bytes_per_entry() {
    let api = site(N);
    let plain = get(&api, "", None).await;
    assert_eq!(plain.status(), StatusCode::OK);
    let plain = bytes(plain).await;
    let zipped = get(&api, "", Some("gzip")).await;
    assert_eq!(header_of(&zipped, header::CONTENT_ENCODING), ["gzip"]);
    let zipped = bytes(zipped).await;
    assert_eq!(gunzip(&zipped), plain);

    // One page of the default size holds the whole site.
    let v: Value = serde_json::from_slice(&plain).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!((entries.len(), v["more"].as_bool(), v["kind"].as_str()), (N, Some(false), Some("snapshot")));
    assert!(v.get("removed").is_none());
    // The shape is the realistic one: absent fields stand for null / false.
    let has = |k: &str| entries.iter().filter(|e| e.get(k).is_some()).count();
    assert_eq!(has("user_id"), N, "every entry has a holder");
    assert_eq!(has("ambiguous"), 0);
    assert_eq!((has("valid_from"), has("valid_to")), (N / 25, N / 10 + N / 25));
    let short = entries.iter().filter(|e| e["uid"].as_str().unwrap().len() == 8).count();
    assert_eq!(short, N / 5, "4-byte UIDs");
    let suspended = entries.iter().filter(|e| e["holder_state"] == "suspended").count();
    assert_eq!(suspended, N / 20);

    let per_plain = plain.len() as f64 / N as f64;
    let per_gzip = zipped.len() as f64 / N as f64;
    println!(
        "10,000 credentials: {} bytes plain ({per_plain:.1}/entry), {} gzip ({per_gzip:.1}/entry)",
        plain.len(),
        zipped.len()
    );
    assert!(per_plain <= ENTRY_BYTES_PLAIN as f64, "{per_plain:.1} bytes per entry plain > {ENTRY_BYTES_PLAIN}");
    assert!(per_gzip <= ENTRY_BYTES_GZIP as f64, "{per_gzip:.1} bytes per entry gzip > {ENTRY_BYTES_GZIP}");
}
