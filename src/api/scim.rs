//! SCIM 2.0 (RFC 7643/7644) over HTTP at `/scim/v2`. The protocol is
//! [`crate::scim`] and the rules [`crate::ops::directory`]; this module
//! authenticates, reads query strings and bodies, maps SCIM JSON to the
//! rule layer's types and back, and answers `application/scim+json`.
//!
//! - Every route needs a bearer token of the `provisioner` role (the rule
//!   layer decides; a staff token gets 403, an unknown one 401), answered
//!   as SCIM error bodies; a refusal is audited like any other.
//! - `meta.version` is the row's revision as a weak ETag, also sent as
//!   `ETag`; `If-Match` on PUT, PATCH and DELETE goes to the store, which
//!   answers 412 when the revision moved.
//! - PATCH reads the current resource as SCIM JSON, applies the PatchOp
//!   ([`crate::scim::patch`]), reads the result back and replaces it; without
//!   `If-Match` a User PATCH that lost a race with another write is applied
//!   again to the new state (a few times), a Group PATCH sends the members
//!   added and removed, so concurrent member changes do not undo each other.
//! - `filter` is parsed and checked against the schema; `userName eq`,
//!   `externalId eq` and `id eq` (Users) and `displayName eq` (Groups) are
//!   index look-ups, and every filter is then evaluated on what they return.
//! - The discovery endpoints answer GET only (405 otherwise); any other
//!   path under `/scim/v2` is a SCIM 404.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::api::auth::{Auth, authenticate};
use crate::api::error::{ApiError, Refused};
use crate::api::{AppState, op};
use crate::domain::UserId;
use crate::ops::directory::{self as dir, GroupChange};
use crate::scim::error::ScimJson;
use crate::scim::filter::{AttrPath, SimpleAttr};
use crate::scim::list::{ListParams, ListResponse};
use crate::scim::resource::{GroupFields, IfMatch, Meta, UserFields, if_match_revision};
use crate::scim::schema::{self, ResourceKind, parse_attribute_list};
use crate::scim::{PatchRequest, ScimError, ScimType};
use crate::store::UserRecord;
use crate::store::directory::{DirPerson, GroupRecord, ScimLookup};

/// A SCIM answer, or a SCIM error carrying the refusal for the audit trail.
#[derive(Debug)]
pub struct Scim(Response);

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        self.0
    }
}

/// The stable code of a refusal this module found (parsing, PATCH), kept
/// on the response until a write handler marks it for the audit trail.
#[derive(Debug, Clone, Copy)]
struct ScimCode(&'static str);

impl From<ScimError> for Scim {
    fn from(e: ScimError) -> Self {
        let code = e.code();
        let mut res = e.into_response();
        res.extensions_mut().insert(ScimCode(code));
        Self(res)
    }
}

impl Scim {
    /// A write refused before any store operation could audit it (a bad
    /// body, an impossible PATCH) goes on the audit trail as `api.refused`
    /// with its code, like every other refused write.
    fn refused_to(mut self, p: &Provisioner) -> Self {
        let code = self.0.extensions().get::<ScimCode>().map(|c| c.0);
        if let Some(code) = code
            && self.0.status().is_client_error()
            && self.0.extensions().get::<Refused>().is_none()
        {
            let actor = p.0.as_acting().actor().id;
            self.0.extensions_mut().insert(Refused { actor, code });
        }
        self
    }
}

/// Runs a write handler's body, auditing a refusal it found itself.
/// Provisioning yields to the doors: one SCIM write at a time, each first
/// waiting (up to a second) while the door decisions' p99 is above
/// `purge_door_p99_ms` — a 100,000-person initial load from Entra ID
/// shares the disk with the doors' event fsyncs.
async fn write(s: AppState, p: &Provisioner, f: impl Future<Output = R>) -> R {
    // The wait comes before the turn: a slow disk slows each write, it does not queue them all behind one.
    s.door_watch.wait_for_doors(s.jobs.door_target(), std::time::Duration::from_secs(1)).await;
    let _turn = s.provisioning.acquire().await;
    f.await.map_err(|e| e.refused_to(p))
}

/// An API error as a SCIM error: the same status and detail, the RFC's
/// keyword where it has one, the refusal kept for the audit trail.
impl From<ApiError> for Scim {
    fn from(e: ApiError) -> Self {
        let scim_type = match e.status {
            StatusCode::CONFLICT => Some(ScimType::Uniqueness),
            StatusCode::BAD_REQUEST => Some(ScimType::InvalidValue),
            _ => None,
        };
        let refused = e.refused_actor.clone().map(|actor| Refused { actor, code: e.code });
        let mut res = ScimError::new(e.status, scim_type, e.detail).into_response();
        if let Some(r) = refused {
            res.extensions_mut().insert(r);
        }
        if let Some(v) = e.retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        Self(res)
    }
}

type R = Result<Response, Scim>;

/// The holder of a `provisioner` token.
#[derive(Debug, Clone)]
pub struct Provisioner(Auth);

impl FromRequestParts<AppState> for Provisioner {
    type Rejection = Scim;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = authenticate(parts, state)?;
        auth.as_acting().require_provisioner().map_err(|e| auth.refused(e))?;
        Ok(Self(auth))
    }
}

fn json(status: StatusCode, v: Value) -> Response {
    ScimJson(status, v).into_response()
}

/// A resource's answer: its JSON, `ETag`, and `Location` on a create.
fn resource(status: StatusCode, v: Value) -> Response {
    let tag = v["meta"]["version"].as_str().and_then(|t| HeaderValue::from_str(t).ok());
    let loc = (status == StatusCode::CREATED)
        .then(|| v["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok()))
        .flatten();
    let mut res = json(status, v);
    if let Some(t) = tag {
        res.headers_mut().insert(header::ETAG, t);
    }
    if let Some(l) = loc {
        res.headers_mut().insert(header::LOCATION, l);
    }
    res
}

/// `{scheme}://{host}/scim/v2`, for `meta.location` and `$ref`.
fn base(s: &AppState, headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| !h.is_empty()).unwrap_or("localhost");
    let scheme = if s.https() { "https" } else { "http" };
    format!("{scheme}://{host}/scim/v2")
}

fn body_json(body: Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ScimError::payload_too_large()
        } else {
            ScimError::invalid_syntax("the body could not be read")
        }
    })?;
    serde_json::from_slice(&body).map_err(|_| ScimError::invalid_syntax("the body is not JSON"))
}

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn pairs(q: Pairs) -> Result<Vec<(String, String)>, ScimError> {
    q.map(|Query(p)| p).map_err(|_| ScimError::invalid_value("the query string could not be read"))
}

/// `attributes` / `excludedAttributes` of a single-resource request.
fn projection(q: &[(String, String)]) -> Result<(Vec<AttrPath>, Vec<AttrPath>), ScimError> {
    let (mut inc, mut exc) = (Vec::new(), Vec::new());
    for (k, v) in q {
        if k.eq_ignore_ascii_case("attributes") {
            inc = parse_attribute_list(v)?;
        } else if k.eq_ignore_ascii_case("excludedAttributes") {
            exc = parse_attribute_list(v)?;
        }
    }
    Ok((inc, exc))
}

fn if_match(headers: &HeaderMap) -> Result<IfMatch, ScimError> {
    if_match_revision(headers.get(header::IF_MATCH).and_then(|h| h.to_str().ok()))
}

/// The revision to hand the store: one named, or None.
fn revision_of(m: &IfMatch, current: impl FnOnce() -> Option<i64>) -> Result<Option<i64>, ScimError> {
    Ok(match m {
        IfMatch::Any => None,
        IfMatch::Revision(r) => Some(*r),
        IfMatch::Several(rs) => match current() {
            Some(c) if rs.contains(&c) => Some(c),
            _ => return Err(ScimError::precondition_failed()),
        },
    })
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    id.parse().map_err(|_| ScimError::not_found("no such User"))
}

fn group_id(id: &str) -> Result<i64, ScimError> {
    id.trim().parse().map_err(|_| ScimError::not_found("no such Group"))
}

// ---- mapping ----------------------------------------------------------------

fn user_fields(u: &UserRecord) -> UserFields {
    UserFields {
        external_id: u.directory.as_ref().and_then(|d| d.external_id.clone()),
        user_name: u.user_name.clone().unwrap_or_else(|| u.id.to_string()),
        given_name: u.given_name.clone().unwrap_or_default(),
        family_name: u.family_name.clone().unwrap_or_default(),
        email: u.email.clone(),
        phone: u.phone.clone(),
        // The directory's own view: only its suspension makes them inactive (a staff suspension is not the
        // directory's to see or lift, and a PATCH that round-trips `active` must not turn it into its own).
        active: Some(!(u.state == crate::domain::UserState::Suspended && u.holds.directory)),
        employee_number: u.employee_no.clone(),
        department: u.org_unit.clone(),
    }
}

fn user_json(base: &str, u: &UserRecord, groups: &[GroupRecord]) -> Value {
    let meta = Meta {
        created: u.created_at.to_rfc3339(),
        last_modified: u.updated_at.to_rfc3339(),
        version: u.revision.to_string(),
    };
    let in_groups: Vec<(String, String)> = u
        .directory_groups
        .iter()
        .filter_map(|name| groups.iter().find(|g| g.display_name.eq_ignore_ascii_case(name)))
        .map(|g| (g.id.to_string(), g.display_name.clone()))
        .collect();
    user_fields(u).to_json(base, &u.id.to_string(), &in_groups, &meta)
}

fn dir_person(f: UserFields) -> DirPerson {
    DirPerson {
        external_id: f.external_id,
        user_name: Some(f.user_name),
        given_name: f.given_name,
        family_name: f.family_name,
        email: f.email,
        phone: f.phone,
        employee_no: f.employee_number,
        org_unit: f.department,
        groups: None,
        active: f.active.unwrap_or(true),
    }
}

fn group_fields(g: &GroupRecord) -> GroupFields {
    GroupFields {
        external_id: g.external_id.clone(),
        display_name: g.display_name.clone(),
        members: g.members.iter().map(ToString::to_string).collect(),
    }
}

fn group_json(base: &str, g: &GroupRecord) -> Value {
    let meta = Meta {
        created: g.created_at.to_rfc3339(),
        last_modified: g.updated_at.to_rfc3339(),
        version: g.revision.to_string(),
    };
    group_fields(g).to_json(base, &g.id.to_string(), &meta)
}

fn member_ids(ids: &[String]) -> Result<Vec<UserId>, ScimError> {
    ids.iter().map(|m| m.parse().map_err(|_| ScimError::invalid_value("a member's value is not a User id"))).collect()
}

// ---- discovery ---------------------------------------------------------------

async fn service_provider_config(State(s): State<AppState>, _p: Provisioner, headers: HeaderMap) -> Response {
    json(StatusCode::OK, schema::service_provider_config(&base(&s, &headers)))
}

fn listed(docs: Vec<Value>) -> Response {
    let params = ListParams { start_index: 1, count: docs.len(), ..ListParams::default() };
    json(StatusCode::OK, ListResponse::page(&params, docs).to_json())
}

async fn schemas(State(s): State<AppState>, _p: Provisioner, headers: HeaderMap) -> Response {
    listed(schema::schemas(&base(&s, &headers)))
}

async fn schema_by_id(State(s): State<AppState>, _p: Provisioner, headers: HeaderMap, Path(id): Path<String>) -> R {
    schema::schema(&base(&s, &headers), &id)
        .map(|d| json(StatusCode::OK, d))
        .ok_or_else(|| ScimError::not_found("no such schema").into())
}

async fn resource_types(State(s): State<AppState>, _p: Provisioner, headers: HeaderMap) -> Response {
    listed(schema::resource_types(&base(&s, &headers)))
}

async fn resource_type_by_id(
    State(s): State<AppState>,
    _p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> R {
    schema::resource_type(&base(&s, &headers), &id)
        .map(|d| json(StatusCode::OK, d))
        .ok_or_else(|| ScimError::not_found("no such resource type").into())
}

// ---- Users -----------------------------------------------------------------------

async fn all_groups(s: &AppState, p: &Provisioner) -> Result<Vec<GroupRecord>, Scim> {
    Ok(op(s, p.0.as_acting(), |st, a| dir::scim_groups(st, a, None)).await?)
}

/// Up to this many group names are looked up one by one; more, all groups
/// are read once.
const GROUPS_BY_NAME: usize = 8;

/// The groups `users` are in (for their `groups` attribute): none read for
/// people in no group — a create, most of an initial provisioning.
async fn groups_of(s: &AppState, p: &Provisioner, users: &[&UserRecord]) -> Result<Vec<GroupRecord>, Scim> {
    let mut names: Vec<String> = users.iter().flat_map(|u| u.directory_groups.iter().cloned()).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(op(s, p.0.as_acting(), move |st, a| {
        if names.len() > GROUPS_BY_NAME {
            return dir::scim_groups(st, a, None);
        }
        let mut out = Vec::new();
        for n in &names {
            out.extend(dir::scim_groups(st, a, Some(n))?);
        }
        Ok(out)
    })
    .await?)
}

async fn list_users(s: &AppState, p: &Provisioner, headers: &HeaderMap, params: ListParams) -> R {
    let lookup = match params.filter.as_ref().and_then(|f| f.simple_eq(ResourceKind::User)) {
        Some((SimpleAttr::UserName, v)) => ScimLookup::UserName(v.to_owned()),
        Some((SimpleAttr::ExternalId, v)) => ScimLookup::ExternalId(v.to_owned()),
        Some((SimpleAttr::Id, v)) => match v.parse() {
            Ok(id) => ScimLookup::Id(id),
            Err(_) => return Ok(json(StatusCode::OK, ListResponse::page(&params, Vec::new()).to_json())),
        },
        _ => ScimLookup::All,
    };
    let users = op(s, p.0.as_acting(), move |st, a| dir::scim_users(st, a, &lookup)).await?;
    let groups = groups_of(s, p, &users.iter().collect::<Vec<_>>()).await?;
    let base = base(s, headers);
    let page = match &params.filter {
        // No filter: only the page is turned into JSON.
        None => {
            let total = users.len();
            let w = params.window(total);
            let docs: Vec<Value> = users[w].iter().map(|u| user_json(&base, u, &groups)).collect();
            ListResponse { total_results: total, start_index: params.start_index, resources: docs }
        }
        Some(f) => {
            let matching: Vec<Value> = users
                .iter()
                .map(|u| user_json(&base, u, &groups))
                .filter(|v| f.matches(ResourceKind::User, v))
                .collect();
            ListResponse::page(&params, matching)
        }
    };
    let resources = page
        .resources
        .iter()
        .map(|v| schema::project(ResourceKind::User, v, &params.attributes, &params.excluded))
        .collect();
    Ok(json(StatusCode::OK, ListResponse { resources, ..page }.to_json()))
}

async fn get_users(State(s): State<AppState>, p: Provisioner, headers: HeaderMap, q: Pairs) -> R {
    let q = pairs(q)?;
    let params = ListParams::from_query(ResourceKind::User, q.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    list_users(&s, &p, &headers, params).await
}

async fn search_users(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let params = ListParams::from_search_request(ResourceKind::User, &body_json(body)?)?;
    list_users(&s, &p, &headers, params).await
}

async fn create_user(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    write(s.clone(), &p, create_user_inner(s, p.clone(), headers, q, body)).await
}

async fn create_user_inner(
    s: AppState,
    p: Provisioner,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let fields = UserFields::from_json(&body_json(body)?)?;
    let person = dir_person(fields);
    let u = op(&s, p.0.as_acting(), move |st, a| dir::scim_create_user(st, a, person)).await?;
    let groups = groups_of(&s, &p, &[&u]).await?;
    let v = user_json(&base(&s, &headers), &u, &groups);
    Ok(resource(StatusCode::CREATED, schema::project(ResourceKind::User, &v, &inc, &exc)))
}

async fn get_user(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Pairs,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let id = user_id(&id)?;
    let u = op(&s, p.0.as_acting(), move |st, a| dir::scim_user(st, a, id)).await?;
    let groups = groups_of(&s, &p, &[&u]).await?;
    let v = user_json(&base(&s, &headers), &u, &groups);
    if let Some(tag) = headers.get(header::IF_NONE_MATCH).and_then(|h| h.to_str().ok())
        && crate::scim::resource::if_match_holds(tag, &u.revision.to_string())
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(resource(StatusCode::OK, schema::project(ResourceKind::User, &v, &inc, &exc)))
}

async fn put_user(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    write(s.clone(), &p, put_user_inner(s, p.clone(), headers, id, q, body)).await
}

async fn put_user_inner(
    s: AppState,
    p: Provisioner,
    headers: HeaderMap,
    id: String,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let id = user_id(&id)?;
    let body = body_json(body)?;
    if let Some(given) = crate::scim::filter::get_ci(&body, "id").and_then(Value::as_str)
        && user_id(given).ok() != Some(id)
    {
        return Err(ScimError::mutability("id is readOnly").into());
    }
    let person = dir_person(UserFields::from_json(&body)?);
    let m = if_match(&headers)?;
    let current = match &m {
        IfMatch::Several(_) => Some(op(&s, p.0.as_acting(), move |st, a| dir::scim_user(st, a, id)).await?.revision),
        _ => None,
    };
    let rev = revision_of(&m, || current)?;
    let u = op(&s, p.0.as_acting(), move |st, a| dir::scim_replace_user(st, a, id, person, rev)).await?;
    let groups = groups_of(&s, &p, &[&u]).await?;
    let v = user_json(&base(&s, &headers), &u, &groups);
    Ok(resource(StatusCode::OK, schema::project(ResourceKind::User, &v, &inc, &exc)))
}

/// Attempts of a User PATCH without `If-Match` that loses a race.
const PATCH_ATTEMPTS: usize = 5;

async fn patch_user(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    write(s.clone(), &p, patch_user_inner(s, p.clone(), headers, id, q, body)).await
}

async fn patch_user_inner(
    s: AppState,
    p: Provisioner,
    headers: HeaderMap,
    id: String,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let id = user_id(&id)?;
    let patch = PatchRequest::parse(ResourceKind::User, &body_json(body)?)?;
    let m = if_match(&headers)?;
    let base = base(&s, &headers);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = op(&s, p.0.as_acting(), move |st, a| dir::scim_user(st, a, id)).await?;
        let rev = match revision_of(&m, || Some(current.revision))? {
            Some(r) => r,
            None => current.revision,
        };
        // `groups` is readOnly: a PATCH does not change it.
        let groups = groups_of(&s, &p, &[&current]).await?;
        let mut doc = user_json(&base, &current, &groups);
        patch.apply(ResourceKind::User, &mut doc)?;
        let person = dir_person(UserFields::from_json(&doc)?);
        let r = op(&s, p.0.as_acting(), move |st, a| dir::scim_replace_user(st, a, id, person, Some(rev))).await;
        match r {
            Ok(u) => {
                let v = user_json(&base, &u, &groups);
                return Ok(resource(StatusCode::OK, schema::project(ResourceKind::User, &v, &inc, &exc)));
            }
            // Lost a race the client did not ask about: apply it again to the new state.
            Err(e) if e.status == StatusCode::PRECONDITION_FAILED && m == IfMatch::Any && attempt < PATCH_ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    }
}

async fn delete_user(State(s): State<AppState>, p: Provisioner, headers: HeaderMap, Path(id): Path<String>) -> R {
    write(s.clone(), &p, delete_user_inner(s, p.clone(), headers, id)).await
}

async fn delete_user_inner(s: AppState, p: Provisioner, headers: HeaderMap, id: String) -> R {
    let id = user_id(&id)?;
    let m = if_match(&headers)?;
    let current = match &m {
        IfMatch::Several(_) => Some(op(&s, p.0.as_acting(), move |st, a| dir::scim_user(st, a, id)).await?.revision),
        _ => None,
    };
    let rev = revision_of(&m, || current)?;
    op(&s, p.0.as_acting(), move |st, a| dir::scim_delete_user(st, a, id, rev)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- Groups ------------------------------------------------------------------------

async fn list_groups(s: &AppState, p: &Provisioner, headers: &HeaderMap, params: ListParams) -> R {
    let name = match params.filter.as_ref().and_then(|f| f.simple_eq(ResourceKind::Group)) {
        Some((SimpleAttr::DisplayName, v)) => Some(v.to_owned()),
        _ => None,
    };
    let groups = op(s, p.0.as_acting(), move |st, a| dir::scim_groups(st, a, name.as_deref())).await?;
    let base = base(s, headers);
    let docs: Vec<Value> = groups
        .iter()
        .map(|g| group_json(&base, g))
        .filter(|v| params.filter.as_ref().is_none_or(|f| f.matches(ResourceKind::Group, v)))
        .collect();
    let page = ListResponse::page(&params, docs);
    let resources = page
        .resources
        .iter()
        .map(|v| schema::project(ResourceKind::Group, v, &params.attributes, &params.excluded))
        .collect();
    Ok(json(StatusCode::OK, ListResponse { resources, ..page }.to_json()))
}

async fn get_groups(State(s): State<AppState>, p: Provisioner, headers: HeaderMap, q: Pairs) -> R {
    let q = pairs(q)?;
    let params = ListParams::from_query(ResourceKind::Group, q.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    list_groups(&s, &p, &headers, params).await
}

async fn search_groups(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let params = ListParams::from_search_request(ResourceKind::Group, &body_json(body)?)?;
    list_groups(&s, &p, &headers, params).await
}

async fn create_group(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    write(s.clone(), &p, create_group_inner(s, p.clone(), headers, q, body)).await
}

async fn create_group_inner(
    s: AppState,
    p: Provisioner,
    headers: HeaderMap,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let f = GroupFields::from_json(&body_json(body)?)?;
    let members = member_ids(&f.members)?;
    let g =
        op(&s, p.0.as_acting(), move |st, a| dir::scim_create_group(st, a, f.display_name, f.external_id, &members))
            .await?;
    let v = group_json(&base(&s, &headers), &g);
    Ok(resource(StatusCode::CREATED, schema::project(ResourceKind::Group, &v, &inc, &exc)))
}

async fn get_group(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Pairs,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let id = group_id(&id)?;
    let g = op(&s, p.0.as_acting(), move |st, a| dir::scim_group(st, a, id)).await?;
    let v = group_json(&base(&s, &headers), &g);
    Ok(resource(StatusCode::OK, schema::project(ResourceKind::Group, &v, &inc, &exc)))
}

/// What turns group `before` into `after`: the changed name and external
/// ID, the members added and removed.
fn group_change(before: &GroupRecord, after: &GroupFields, whole_list: bool) -> Result<GroupChange, ScimError> {
    let after_members = member_ids(&after.members)?;
    let mut change = GroupChange::default();
    if after.display_name != before.display_name {
        change.display_name = Some(after.display_name.clone());
    }
    if after.external_id != before.external_id {
        change.external_id = Some(after.external_id.clone());
    }
    if whole_list {
        change.members = Some(after_members);
    } else {
        change.add = after_members.iter().filter(|m| !before.members.contains(m)).copied().collect();
        change.remove = before.members.iter().filter(|m| !after_members.contains(m)).copied().collect();
    }
    Ok(change)
}

async fn put_group(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    write(s.clone(), &p, put_group_inner(s, p.clone(), headers, id, q, body)).await
}

async fn put_group_inner(
    s: AppState,
    p: Provisioner,
    headers: HeaderMap,
    id: String,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let id = group_id(&id)?;
    let f = GroupFields::from_json(&body_json(body)?)?;
    let m = if_match(&headers)?;
    let current = op(&s, p.0.as_acting(), move |st, a| dir::scim_group(st, a, id)).await?;
    let rev = revision_of(&m, || Some(current.revision))?;
    let change = group_change(&current, &f, true)?;
    let g = op(&s, p.0.as_acting(), move |st, a| dir::scim_update_group(st, a, id, change, rev)).await?;
    let v = group_json(&base(&s, &headers), &g);
    Ok(resource(StatusCode::OK, schema::project(ResourceKind::Group, &v, &inc, &exc)))
}

async fn patch_group(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    write(s.clone(), &p, patch_group_inner(s, p.clone(), headers, id, q, body)).await
}

async fn patch_group_inner(
    s: AppState,
    p: Provisioner,
    headers: HeaderMap,
    id: String,
    q: Pairs,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let (inc, exc) = projection(&pairs(q)?)?;
    let id = group_id(&id)?;
    let patch = PatchRequest::parse(ResourceKind::Group, &body_json(body)?)?;
    let m = if_match(&headers)?;
    let base = base(&s, &headers);
    let current = op(&s, p.0.as_acting(), move |st, a| dir::scim_group(st, a, id)).await?;
    let rev = revision_of(&m, || Some(current.revision))?;
    let mut doc = group_json(&base, &current);
    patch.apply(ResourceKind::Group, &mut doc)?;
    let after = GroupFields::from_json(&doc)?;
    // With If-Match the client asked for this exact state; without it, the
    // members added and removed, so concurrent PATCHes do not undo each other.
    let change = group_change(&current, &after, rev.is_some())?;
    let g = op(&s, p.0.as_acting(), move |st, a| dir::scim_update_group(st, a, id, change, rev)).await?;
    let v = group_json(&base, &g);
    Ok(resource(StatusCode::OK, schema::project(ResourceKind::Group, &v, &inc, &exc)))
}

async fn delete_group(State(s): State<AppState>, p: Provisioner, headers: HeaderMap, Path(id): Path<String>) -> R {
    write(s.clone(), &p, delete_group_inner(s, p.clone(), headers, id)).await
}

async fn delete_group_inner(s: AppState, p: Provisioner, headers: HeaderMap, id: String) -> R {
    let id = group_id(&id)?;
    let m = if_match(&headers)?;
    let current = match &m {
        IfMatch::Several(_) => Some(op(&s, p.0.as_acting(), move |st, a| dir::scim_group(st, a, id)).await?.revision),
        _ => None,
    };
    let rev = revision_of(&m, || current)?;
    op(&s, p.0.as_acting(), move |st, a| dir::scim_delete_group(st, a, id, rev)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /.search`: Users, then Groups. The filter is checked against
/// either schema and evaluated on each resource with its own.
async fn search_all(
    State(s): State<AppState>,
    p: Provisioner,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> R {
    let body = body_json(body)?;
    let params = ListParams::from_search_request(ResourceKind::User, &body).or_else(|e| {
        if e.scim_type == Some(ScimType::InvalidFilter) {
            ListParams::from_search_request(ResourceKind::Group, &body)
        } else {
            Err(e)
        }
    })?;
    let users = op(&s, p.0.as_acting(), |st, a| dir::scim_users(st, a, &ScimLookup::All)).await?;
    let groups = all_groups(&s, &p).await?;
    let base = base(&s, &headers);
    let docs: Vec<(ResourceKind, Value)> = users
        .iter()
        .map(|u| (ResourceKind::User, user_json(&base, u, &groups)))
        .chain(groups.iter().map(|g| (ResourceKind::Group, group_json(&base, g))))
        .filter(|(k, v)| params.filter.as_ref().is_none_or(|f| f.matches(*k, v)))
        .collect();
    let total = docs.len();
    let resources = docs[params.window(total)]
        .iter()
        .map(|(k, v)| schema::project(*k, v, &params.attributes, &params.excluded))
        .collect();
    Ok(json(
        StatusCode::OK,
        ListResponse { total_results: total, start_index: params.start_index, resources }.to_json(),
    ))
}

async fn not_found(_p: Provisioner) -> Scim {
    ScimError::not_found("no such SCIM endpoint").into()
}

async fn method_not_allowed() -> Scim {
    ScimError::method_not_allowed().into()
}

/// The routes below, as `/metrics` labels them.
pub const PATHS: &[&str] = &[
    "/scim/v2/ServiceProviderConfig",
    "/scim/v2/Schemas",
    "/scim/v2/Schemas/{id}",
    "/scim/v2/ResourceTypes",
    "/scim/v2/ResourceTypes/{id}",
    "/scim/v2/.search",
    "/scim/v2/Users",
    "/scim/v2/Users/.search",
    "/scim/v2/Users/{id}",
    "/scim/v2/Groups",
    "/scim/v2/Groups/.search",
    "/scim/v2/Groups/{id}",
];

/// The SCIM routes, nested at `/scim/v2` by [`crate::api::router`]; bodies
/// up to [`schema::MAX_PAYLOAD`] (a large group's member list).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type_by_id))
        .route("/.search", post(search_all))
        .route("/Users", get(get_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route("/Users/{id}", get(get_user).put(put_user).patch(patch_user).delete(delete_user))
        .route("/Groups", get(get_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route("/Groups/{id}", get(get_group).put(put_group).patch(patch_group).delete(delete_group))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(schema::MAX_PAYLOAD))
}
