//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`, `idms openapi`).
//!
//! Each handler's `#[utoipa::path]` declares what is its own: its success
//! bodies and the refusals only it gives (a 409 of its rule, an encoder's
//! 502). What every route shares is added here, once, by [`Complete`],
//! from the same facts the code acts on:
//!
//! - a route with `security` can answer 401 (the `Auth` extractor; every
//!   401 carries `WWW-Authenticate: Bearer`), 403
//!   (`Staff<ROLE>`, or the rule layer's role, unit and door checks) and
//!   429 with `Retry-After` (failed bearer tokens from a locked address,
//!   `api::throttle`);
//! - a route with a request body can answer 400, 413 and 415 (what
//!   [`ApiJson`](super::error::ApiJson) rejects with; it never answers 422);
//! - a route with query parameters can answer 400 (`ApiQuery`), one with
//!   path parameters 404 (`ApiPath`, and looking the ID up);
//! - every route can answer 500 (a failure, or a panicking handler) and
//!   503 with `Retry-After` (the store's `busy`/`erasure_pending`, a full
//!   queue, a stopping service).
//!
//! Every error is declared `application/problem+json` with the `Problem`
//! schema — what [`ApiError`](super::error::ApiError) sends — and every
//! response gets a description. `tests/it/openapi.rs` holds the document
//! and the handlers to this.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi};

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(title = "IDMS", description = "Badge office and door-controller API. Errors are RFC 9457 `application/problem+json` with a stable `code`."),
    modifiers(&BearerAuth),
    tags(
        (name = "people", description = "People and their data"),
        (name = "lifecycle", description = "Suspend, delete, restore, expunge"),
        (name = "cards", description = "Credentials: enrol, recycle, retire"),
        (name = "purge", description = "Purge jobs, erasing deleted people, bulk purge dates"),
        (name = "audit", description = "Audit trail, access events and statistics"),
        (name = "readers", description = "Desk readers: live taps, tap-to-enrol, encoders"),
        (name = "doors", description = "Door controllers"),
        (name = "access levels", description = "Sites, doors, areas, schedules, holidays, access levels and who may open which door when"),
        (name = "auth", description = "Operator login"),
        (name = "admin", description = "Operators, door controllers and tokens"),
        (name = "ops", description = "Health and metrics"),
    )
)]
pub(super) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut Document) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document, as the service serves it.
#[must_use]
pub fn document() -> Document {
    super::routes().1
}

/// Completes the document the route registrations produced (see the
/// module docs). Applied by [`routes()`](super::routes()) once every route
/// is in: a `modifiers(...)` entry of `ApiDoc` would run before there are
/// paths.
#[derive(Debug, Clone, Copy)]
pub struct Complete;

impl Modify for Complete {
    fn modify(&self, api: &mut Document) {
        api.info.extensions = Some(
            utoipa::openapi::extensions::ExtensionsBuilder::new()
                .add("x-idms-contract", crate::api::doors::CONTRACT_VERSION)
                .build(),
        );
        for (path, item) in &mut api.paths.paths {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                complete(path, op);
            }
        }
    }
}

/// The statuses every operation with these traits can answer.
fn shared_statuses(secured: bool, body: bool, query: bool, path: bool) -> Vec<u16> {
    let mut s = vec![500, 503, 507];
    if secured {
        s.extend([401, 403, 429]);
    }
    if body {
        s.extend([400, 413, 415]);
    }
    if query {
        s.push(400);
    }
    if path {
        s.push(404);
    }
    s.sort_unstable();
    s.dedup();
    s
}

fn complete(path: &str, op: &mut Operation) {
    let params = op.parameters.iter().flatten().filter_map(|p| match p {
        RefOr::T(p) => Some(&p.parameter_in),
        RefOr::Ref(_) => None,
    });
    let (mut query, mut in_path) = (false, path.contains('{'));
    for p in params {
        query |= matches!(p, ParameterIn::Query);
        in_path |= matches!(p, ParameterIn::Path);
    }
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let body = op.request_body.is_some();
    for status in shared_statuses(secured, body, query, in_path) {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(Response::default()));
    }
    for (status, response) in &mut op.responses.responses {
        let RefOr::T(r) = response else { continue };
        let code = status.parse::<u16>().unwrap_or(0);
        if code >= 400 {
            r.content.clear();
            r.content.insert(PROBLEM_JSON.to_string(), RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))));
            if code == 503 || code == 429 {
                let mut h = utoipa::openapi::header::Header::new(utoipa::openapi::Object::with_type(
                    utoipa::openapi::Type::Integer,
                ));
                h.description = Some("Seconds to wait before retrying.".into());
                r.headers.insert("Retry-After".into(), RefOr::T(h));
            }
            if code == 401 {
                let mut h = utoipa::openapi::header::Header::new(utoipa::openapi::Object::with_type(
                    utoipa::openapi::Type::String,
                ));
                h.description = Some("`Bearer`: the scheme the API authenticates with (RFC 9110 §11.6.1).".into());
                r.headers.insert("WWW-Authenticate".into(), RefOr::T(h));
            }
        }
        if r.description.trim().is_empty() {
            r.description = describe(code, r);
        }
    }
}

/// A response's default description: what its body is, or for a problem
/// what its `code` can be.
fn describe(status: u16, r: &Response) -> String {
    let problem = match status {
        400 => "The request does not fit: `malformed_json`, `invalid_body`, `invalid_query`, `invalid_input`, or the \
                code of a malformed UID or user ID; `detail` names the field, never its value."
            .to_string(),
        401 => {
            "`unauthorized`: no valid bearer token (missing, unknown, expired, revoked, or its owner disabled).".into()
        }
        403 => "`forbidden`: the caller's role, org unit or doors do not allow this.".into(),
        404 => {
            "`not_found` (or the resource's own code): no such resource, or one outside the caller's org unit.".into()
        }
        408 => "The wait ended before anything arrived.".into(),
        409 => "Refused by a rule of the current state; `code` names it.".into(),
        413 => format!(
            "`body_too_large`: the body is larger than the route accepts ({} bytes; {} for offline-event uploads).",
            super::MAX_BODY,
            super::MAX_UPLOAD_BODY
        ),
        415 => "`unsupported_media_type`: send the body as JSON (`Content-Type: application/json`).".into(),
        422 => "The input was understood but cannot be used; `code` says why.".into(),
        429 => "Too many requests; retry after `Retry-After` seconds.".into(),
        500 => "`internal`: an unexpected failure; the service log has the detail.".into(),
        502 => "A device behind the service failed; `code` says how.".into(),
        503 => "Unavailable for now (`busy`, `erasure_pending`, `queue_full`, `event_log_unavailable`, a device \
                offline, the service starting or stopping): retry after `Retry-After` seconds."
            .into(),
        504 => "A device behind the service did not answer in time.".into(),
        507 => {
            "`storage_full`: the disk holding the database is full; nothing was written. Free space and retry.".into()
        }
        _ => String::new(),
    };
    if !problem.is_empty() {
        return problem;
    }
    let what = r.content.iter().next().map(|(media, c)| match c {
        RefOr::T(Content { schema: Some(s), .. }) => format!("{} ({media})", schema_name(s)),
        _ => media.clone(),
    });
    match (status, what) {
        (204, _) => "Done; no body.".into(),
        (201, Some(w)) => format!("Created: {w}."),
        (202, Some(w)) => format!("Accepted: {w}."),
        (_, Some(w)) => format!("Success: {w}."),
        (_, None) => "Success.".into(),
    }
}

/// `` `Name` `` for a schema reference, `` a list of `Name` `` for an
/// array of them, else its type.
fn schema_name(s: &RefOr<Schema>) -> String {
    match s {
        RefOr::Ref(r) => format!("`{}`", r.ref_location.rsplit('/').next().unwrap_or_default()),
        RefOr::T(Schema::Array(a)) => match &a.items {
            utoipa::openapi::schema::ArrayItems::RefOrSchema(inner) => format!("a list of {}", schema_name(inner)),
            utoipa::openapi::schema::ArrayItems::False => "a list".into(),
        },
        RefOr::T(_) => "text".into(),
    }
}
