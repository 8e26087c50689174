//! Helpers for driving the HTTP API in-process (`tower::ServiceExt::oneshot`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use idms::api::{AppState, router};
use idms::store::{Role, Store};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{Fixture, staff};

pub struct Api {
    pub fx: Fixture,
    pub store: Arc<Store>,
    pub app: Router,
    /// Operator tokens by role.
    pub tokens: BTreeMap<Role, String>,
    /// Controller for door `main` (id, token) and one for door `side`.
    pub door: (i64, String),
    pub other_door: (i64, String),
    /// The service's reader hub: tests publish reader events into it.
    pub hub: Arc<idms::readers::Hub>,
    /// The service's state (for starting reader sources in-process).
    pub state: AppState,
}

impl Api {
    pub fn new() -> Self {
        Self::over(Fixture::new())
    }

    /// The service over a given database (e.g. one an older build left).
    pub fn over(fx: Fixture) -> Self {
        // A second store on the same file, owned by the service.
        let store = Arc::new(Store::open(&fx.db_path(), fx.clock.clone()).unwrap());
        let state = AppState::open(store.clone(), fx.dir.path(), 1024, std::time::Duration::ZERO).unwrap();
        let hub = state.readers.clone();
        let app = router(state.clone());
        let mut tokens = BTreeMap::new();
        for role in Role::ALL.into_iter().chain([Role::Provisioner]) {
            let (_, t) = store.create_token(&staff(), &format!("op-{role}"), role, None).unwrap();
            tokens.insert(role, t);
        }
        let (c, t) = store.add_controller(&staff(), "ctl-main", &["main".to_string()]).unwrap();
        let (c2, t2) = store.add_controller(&staff(), "ctl-side", &["side".to_string()]).unwrap();
        Self { fx, store, app, tokens, door: (c.id, t), other_door: (c2.id, t2), hub, state }
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens[&role]
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let raw = body.map(|b| b.to_string().into_bytes());
        self.call_raw(method, path, token, raw, "application/json").await
    }

    /// The status of a call whose body is a stream (not read).
    pub async fn status_only(&self, method: Method, path: &str, token: Option<&str>) -> StatusCode {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        self.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap().status()
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req.header("content-type", content_type).body(Body::from(b)).unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let problem = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("application/problem+json"));
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        if status.is_client_error() || status.is_server_error() {
            assert!(problem, "{status} without problem+json: {v}");
            assert_eq!(v["status"].as_u64(), Some(u64::from(status.as_u16())), "{v}");
            assert!(v["code"].is_string() && v["detail"].is_string() && v["type"].is_string(), "{v}");
        }
        (status, v)
    }

    /// Creates a person through the API as an admin; returns the ID.
    pub async fn person(&self, family: &str) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/api/v1/users",
                Some(self.token(Role::Admin)),
                Some(serde_json::json!({"given_name": "Api", "family_name": family})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn enroll(&self, user: &str, uid: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/credentials",
            Some(self.token(Role::Enroller)),
            Some(serde_json::json!({"uid": uid, "user_id": user})),
        )
        .await
    }

    pub async fn decide(&self, uid: &str) -> Value {
        let (s, v) = self
            .call(
                Method::POST,
                "/api/v1/access/decide",
                Some(&self.door.1),
                Some(serde_json::json!({"uid": uid, "door": "main"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}
