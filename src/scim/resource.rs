//! The SCIM JSON of a User and a Group, read into the fields IDMS keeps and
//! written back from them; `meta` and ETags.
//!
//! Rules:
//! - reading keeps only what [`super::schema`] publishes; `readOnly`
//!   attributes (`id`, `meta`, `groups`, `displayName`) and unknown ones are
//!   ignored, as RFC 7644 §3.3 and §3.5.1 say for a create or a replace;
//! - `userName`, `name.givenName` and `name.familyName` are required
//!   (`invalidValue` otherwise); `active` may be a boolean or the strings
//!   `"True"`/`"False"` (Entra ID), and is None when left out;
//! - IDMS keeps one email address and one phone number: of several, the
//!   `primary` one, else the `work` one, else the first; they are written
//!   back as `[{"value", "type": "work"}]`, so a client reads back what it
//!   wrote;
//! - a member is read from `value`, or from the last segment of `$ref`;
//!   members are written back as `value` and `$ref` only;
//! - the version is a weak ETag, `W/"…"`; `If-Match` holds when it lists
//!   the current version (compared weakly) or `*`.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::filter::get_ci;
use super::schema::ResourceKind;
use super::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// What IDMS keeps of a SCIM User.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserFields {
    /// `externalId`: the directory link.
    pub external_id: Option<String>,
    /// `userName`.
    pub user_name: String,
    /// `name.givenName`.
    pub given_name: String,
    /// `name.familyName`.
    pub family_name: String,
    /// The one email address.
    pub email: Option<String>,
    /// The one phone number.
    pub phone: Option<String>,
    /// `active`; None when the request left it out.
    pub active: Option<bool>,
    /// Enterprise `employeeNumber`.
    pub employee_number: Option<String>,
    /// Enterprise `department`.
    pub department: Option<String>,
}

/// What IDMS keeps of a SCIM Group.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GroupFields {
    /// `externalId`.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: String,
    /// The members' ids, in the order given, without repeats.
    pub members: Vec<String>,
}

// Personal data: Debug names the type only.
impl std::fmt::Debug for UserFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserFields").finish_non_exhaustive()
    }
}
impl std::fmt::Debug for GroupFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupFields").field("members", &self.members.len()).finish_non_exhaustive()
    }
}

/// `meta` of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// RFC 3339.
    pub created: String,
    /// RFC 3339.
    pub last_modified: String,
    /// The version, without `W/` and quotes (e.g. a change-log position).
    pub version: String,
}

/// `W/"version"`.
#[must_use]
pub fn etag(version: &str) -> String {
    format!("W/\"{version}\"")
}

fn opaque(tag: &str) -> &str {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(t)
}

/// Whether an `If-Match` header holds for `version` (weak comparison;
/// `*` matches any existing resource).
#[must_use]
pub fn if_match_holds(header: &str, version: &str) -> bool {
    header.split(',').any(|t| t.trim() == "*" || opaque(t) == version)
}

/// `If-Match` as a result: 412 when it does not hold; no header holds.
pub fn check_if_match(header: Option<&str>, version: &str) -> Result<(), ScimError> {
    match header {
        Some(h) if !if_match_holds(h, version) => Err(ScimError::precondition_failed()),
        _ => Ok(()),
    }
}

/// `If-Match` for a store that compares a numeric revision: [`IfMatch::Any`]
/// when absent or `*`; the revision(s) it names as `W/"N"` (or `"N"`); 412
/// when it names no revision this service could have issued.
pub fn if_match_revision(header: Option<&str>) -> Result<IfMatch, ScimError> {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else { return Ok(IfMatch::Any) };
    let tags: Vec<&str> = h.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    if tags.contains(&"*") {
        return Ok(IfMatch::Any);
    }
    let revisions: Vec<i64> = tags.iter().filter_map(|t| opaque(t).parse::<i64>().ok()).collect();
    match revisions.as_slice() {
        [] => Err(ScimError::precondition_failed()),
        [one] => Ok(IfMatch::Revision(*one)),
        _ => Ok(IfMatch::Several(revisions)),
    }
}

/// What `If-Match` asks for, for a numeric revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No condition (absent, or `*` on an existing resource).
    Any,
    /// This revision.
    Revision(i64),
    /// Any of these revisions.
    Several(Vec<i64>),
}

/// `{base}/Users/{id}` or `{base}/Groups/{id}`.
#[must_use]
pub fn location(base: &str, kind: ResourceKind, id: &str) -> String {
    format!("{base}{}/{id}", kind.endpoint())
}

fn meta_json(base: &str, kind: ResourceKind, id: &str, meta: &Meta) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": meta.created,
        "lastModified": meta.last_modified,
        "location": location(base, kind, id),
        "version": etag(&meta.version),
    })
}

fn check_schemas(body: &Value, core: &str) -> Result<(), ScimError> {
    match get_ci(body, "schemas") {
        None => Ok(()),
        Some(Value::Array(a)) if a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(core))) => Ok(()),
        Some(_) => Err(ScimError::invalid_syntax(format!("schemas must name {core}"))),
    }
}

/// An optional string member; numbers are taken as their text.
fn opt_string(obj: &Value, name: &str) -> Result<Option<String>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

fn required_string(obj: &Value, name: &str, shown: &str) -> Result<String, ScimError> {
    opt_string(obj, name)?.ok_or_else(|| ScimError::invalid_value(format!("{shown} is required")))
}

/// The one value of a multi-valued attribute IDMS keeps: primary, else
/// `preferred_type`, else the first.
fn pick_one(body: &Value, name: &str, preferred_type: &str) -> Result<Option<String>, ScimError> {
    let values: Vec<&Value> = match get_ci(body, name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(_) => return Err(ScimError::invalid_value(format!("{name} must be a list of objects"))),
    };
    if values.iter().any(|v| !v.is_object()) {
        return Err(ScimError::invalid_value(format!("{name} must be a list of objects")));
    }
    let is_true = |v: &Value| {
        matches!(get_ci(v, "primary"), Some(Value::Bool(true)))
            || get_ci(v, "primary").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case("true"))
    };
    let chosen = values
        .iter()
        .find(|v| is_true(v))
        .or_else(|| {
            values.iter().find(|v| {
                get_ci(v, "type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(preferred_type))
            })
        })
        .or_else(|| values.first());
    match chosen {
        Some(v) => {
            opt_string(v, "value").map_err(|_| ScimError::invalid_value(format!("{name}.value must be a string")))
        }
        None => Ok(None),
    }
}

/// `active`: a boolean, or `"true"`/`"false"` in any case.
fn opt_bool(obj: &Value, name: &str) -> Result<Option<bool>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a boolean"))),
    }
}

impl UserFields {
    /// Reads a User body (POST, PUT, or the result of a PATCH).
    pub fn from_json(body: &Value) -> Result<Self, ScimError> {
        if !body.is_object() {
            return Err(ScimError::invalid_syntax("a User is a JSON object"));
        }
        check_schemas(body, USER_SCHEMA)?;
        let name = match get_ci(body, "name") {
            Some(n @ Value::Object(_)) => n.clone(),
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(_) => return Err(ScimError::invalid_value("name must be an object")),
        };
        let ext = match get_ci(body, ENTERPRISE_SCHEMA) {
            Some(e @ Value::Object(_)) => e.clone(),
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(_) => return Err(ScimError::invalid_value("the enterprise extension must be an object")),
        };
        Ok(Self {
            external_id: opt_string(body, "externalId")?,
            user_name: required_string(body, "userName", "userName")?,
            given_name: required_string(&name, "givenName", "name.givenName")?,
            family_name: required_string(&name, "familyName", "name.familyName")?,
            email: pick_one(body, "emails", "work")?,
            phone: pick_one(body, "phoneNumbers", "work")?,
            active: opt_bool(body, "active")?,
            employee_number: opt_string(&ext, "employeeNumber")?,
            // IDMS keeps one org unit: the department, else the organisation.
            department: opt_string(&ext, "department")?.or(opt_string(&ext, "organization")?),
        })
    }

    /// The User's JSON; `groups` are (id, displayName) of the directory
    /// groups the person is in; `active` None is written as true.
    #[must_use]
    pub fn to_json(&self, base: &str, id: &str, groups: &[(String, String)], meta: &Meta) -> Value {
        let mut m = Map::new();
        let mut schemas = vec![json!(USER_SCHEMA)];
        m.insert("id".into(), json!(id));
        if let Some(e) = &self.external_id {
            m.insert("externalId".into(), json!(e));
        }
        m.insert("userName".into(), json!(self.user_name));
        m.insert("name".into(), json!({"givenName": self.given_name, "familyName": self.family_name}));
        m.insert("displayName".into(), json!(format!("{} {}", self.given_name, self.family_name)));
        m.insert("active".into(), json!(self.active.unwrap_or(true)));
        if let Some(e) = &self.email {
            m.insert("emails".into(), json!([{"value": e, "type": "work"}]));
        }
        if let Some(p) = &self.phone {
            m.insert("phoneNumbers".into(), json!([{"value": p, "type": "work"}]));
        }
        if !groups.is_empty() {
            let g: Vec<Value> = groups
                .iter()
                .map(|(gid, name)| json!({"value": gid, "$ref": location(base, ResourceKind::Group, gid), "display": name}))
                .collect();
            m.insert("groups".into(), Value::Array(g));
        }
        let mut ext = Map::new();
        for (k, v) in [("employeeNumber", &self.employee_number), ("department", &self.department)] {
            if let Some(v) = v {
                ext.insert(k.into(), json!(v));
            }
        }
        if !ext.is_empty() {
            schemas.push(json!(ENTERPRISE_SCHEMA));
            m.insert(ENTERPRISE_SCHEMA.into(), Value::Object(ext));
        }
        m.insert("schemas".into(), Value::Array(schemas));
        m.insert("meta".into(), meta_json(base, ResourceKind::User, id, meta));
        Value::Object(m)
    }
}

impl GroupFields {
    /// Reads a Group body (POST, PUT, or the result of a PATCH).
    pub fn from_json(body: &Value) -> Result<Self, ScimError> {
        if !body.is_object() {
            return Err(ScimError::invalid_syntax("a Group is a JSON object"));
        }
        check_schemas(body, GROUP_SCHEMA)?;
        let mut members: Vec<String> = Vec::new();
        match get_ci(body, "members") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for m in a {
                    let id = match (opt_string(m, "value").ok().flatten(), get_ci(m, "$ref").and_then(Value::as_str)) {
                        (Some(v), _) => v,
                        (None, Some(r)) => r.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned(),
                        (None, None) => String::new(),
                    };
                    if id.is_empty() {
                        return Err(ScimError::invalid_value("a member needs a value"));
                    }
                    if !members.contains(&id) {
                        members.push(id);
                    }
                }
            }
            Some(_) => return Err(ScimError::invalid_value("members must be a list")),
        }
        Ok(Self {
            external_id: opt_string(body, "externalId")?,
            display_name: required_string(body, "displayName", "displayName")?,
            members,
        })
    }

    /// The Group's JSON.
    #[must_use]
    pub fn to_json(&self, base: &str, id: &str, meta: &Meta) -> Value {
        let mut m = Map::new();
        m.insert("schemas".into(), json!([GROUP_SCHEMA]));
        m.insert("id".into(), json!(id));
        if let Some(e) = &self.external_id {
            m.insert("externalId".into(), json!(e));
        }
        m.insert("displayName".into(), json!(self.display_name));
        if !self.members.is_empty() {
            let members: Vec<Value> = self
                .members
                .iter()
                .map(|u| json!({"value": u, "$ref": location(base, ResourceKind::User, u)}))
                .collect();
            m.insert("members".into(), Value::Array(members));
        }
        m.insert("meta".into(), meta_json(base, ResourceKind::Group, id, meta));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:8080/scim/v2";

    fn meta() -> Meta {
        Meta {
            created: "2026-01-02T03:04:05Z".into(),
            last_modified: "2026-01-02T03:04:06Z".into(),
            version: "42".into(),
        }
    }

    #[test]
    fn user_reads_the_fields_and_the_quirks() {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": "00u1",
            "userName": "alice@example.com",
            "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "ignored"},
            "displayName": "ignored",
            "id": "ignored",
            "active": "False",
            "emails": [{"value": "home@x", "type": "home"}, {"value": "work@x", "type": "work"}],
            "phoneNumbers": [{"value": "1", "type": "mobile"}, {"value": "2", "type": "work", "primary": "true"}],
            ENTERPRISE_SCHEMA: {"employeeNumber": 701984, "department": "Ops"},
            "title": "unknown, ignored"
        });
        let u = UserFields::from_json(&body).unwrap();
        assert_eq!(u.external_id.as_deref(), Some("00u1"));
        assert_eq!((u.given_name.as_str(), u.family_name.as_str()), ("Alice", "Smith"));
        assert_eq!(u.active, Some(false));
        assert_eq!(u.email.as_deref(), Some("work@x"), "work before the first");
        assert_eq!(u.phone.as_deref(), Some("2"), "primary before work");
        assert_eq!(u.employee_number.as_deref(), Some("701984"));
        assert_eq!(u.department.as_deref(), Some("Ops"));
        let u =
            UserFields::from_json(&json!({"userName": "b", "name": {"givenName": "B", "familyName": "C"}})).unwrap();
        assert_eq!((u.active, u.email.as_deref()), (None, None));
    }

    #[test]
    fn user_errors() {
        let ok = json!({"schemas": [USER_SCHEMA], "userName": "a", "name": {"givenName": "A", "familyName": "B"}});
        assert!(UserFields::from_json(&ok).is_ok());
        let with = |k: &str, v: Value| {
            let mut b = ok.clone();
            b[k] = v;
            UserFields::from_json(&b).unwrap_err()
        };
        assert_eq!(with("userName", json!("")).detail, "userName is required");
        assert_eq!(with("name", json!({"givenName": "A"})).detail, "name.familyName is required");
        assert_eq!(with("active", json!("maybe")).scim_type, Some(crate::scim::ScimType::InvalidValue));
        assert_eq!(with("emails", json!(["a@b"])).scim_type, Some(crate::scim::ScimType::InvalidValue));
        assert_eq!(with("schemas", json!([GROUP_SCHEMA])).scim_type, Some(crate::scim::ScimType::InvalidSyntax));
        assert_eq!(with("userName", json!({"x": 1})).scim_type, Some(crate::scim::ScimType::InvalidValue));
        assert!(UserFields::from_json(&json!([])).is_err());
    }

    #[test]
    fn user_round_trips_what_a_client_wrote() {
        // what scim2-tester sends for a full User under IDMS's schema
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": "u-1",
            "externalId": "x-1",
            "name": {"familyName": "F", "givenName": "G"},
            "active": false,
            "emails": [{"value": "a@b.com", "type": "work"}],
            "phoneNumbers": [{"value": "0123456789", "type": "work"}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "7", "department": "D"}
        });
        let u = UserFields::from_json(&body).unwrap();
        let out = u.to_json(BASE, "ABC", &[("G1".into(), "Staff".into())], &meta());
        for k in ["userName", "externalId", "name", "active", "emails", "phoneNumbers", ENTERPRISE_SCHEMA] {
            assert_eq!(out[k], body[k], "{k}");
        }
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        assert_eq!(out["displayName"], "G F");
        assert_eq!(out["groups"], json!([{"value": "G1", "$ref": format!("{BASE}/Groups/G1"), "display": "Staff"}]));
        assert_eq!(out["meta"]["location"], format!("{BASE}/Users/ABC"));
        assert_eq!(out["meta"]["version"], "W/\"42\"");
        assert_eq!(out["meta"]["resourceType"], "User");
        assert_eq!(UserFields::from_json(&out).unwrap(), u, "reading our own output gives the same fields");
        // no extension fields: no extension, not in schemas
        let u = UserFields { employee_number: None, department: None, ..u };
        let out = u.to_json(BASE, "ABC", &[], &meta());
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        assert!(out.get(ENTERPRISE_SCHEMA).is_none() && out.get("groups").is_none());
    }

    #[test]
    fn group_reads_members_from_value_or_ref_and_round_trips() {
        let body = json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": "Staff",
            "members": [{"value": "U1"}, {"$ref": format!("{BASE}/Users/U2")}, {"value": "U1", "display": "dup"}]
        });
        let g = GroupFields::from_json(&body).unwrap();
        assert_eq!(g.members, ["U1", "U2"]);
        let out = g.to_json(BASE, "G1", &meta());
        assert_eq!(
            out["members"],
            json!([{"value": "U1", "$ref": format!("{BASE}/Users/U1")}, {"value": "U2", "$ref": format!("{BASE}/Users/U2")}])
        );
        assert_eq!(out["meta"]["location"], format!("{BASE}/Groups/G1"));
        assert_eq!(GroupFields::from_json(&out).unwrap(), g);
        assert!(GroupFields::from_json(&json!({"displayName": ""})).is_err());
        assert!(GroupFields::from_json(&json!({"displayName": "x", "members": [{}]})).is_err());
        assert!(GroupFields::from_json(&json!({"displayName": "x", "members": "U1"})).is_err());
    }

    #[test]
    fn patch_on_our_own_json_then_read_back() {
        use crate::scim::PatchRequest;
        let u = UserFields {
            user_name: "a".into(),
            given_name: "A".into(),
            family_name: "B".into(),
            email: Some("old@x".into()),
            external_id: Some("e".into()),
            ..UserFields::default()
        };
        let mut doc = u.to_json(BASE, "ABC", &[("G1".into(), "Staff".into())], &meta());
        let patch = json!({"schemas": [crate::scim::PATCH_OP_SCHEMA], "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1"},
            {"op": "Replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops", "displayName": "X Y"}},
            {"op": "Remove", "path": "externalId"}
        ]});
        PatchRequest::parse(ResourceKind::User, &patch).unwrap().apply(ResourceKind::User, &mut doc).unwrap();
        let after = UserFields::from_json(&doc).unwrap();
        assert_eq!(after.email.as_deref(), Some("new@x"));
        assert_eq!(after.active, Some(false));
        assert_eq!(after.phone.as_deref(), Some("+1"));
        assert_eq!(after.department.as_deref(), Some("Ops"));
        assert_eq!(after.external_id, None);
        assert_eq!((after.given_name.as_str(), after.user_name.as_str()), ("A", "a"));
    }

    #[test]
    fn etags_and_if_match() {
        assert_eq!(etag("42"), "W/\"42\"");
        assert!(if_match_holds("W/\"42\"", "42"));
        assert!(if_match_holds("\"42\"", "42"), "weak comparison");
        assert!(if_match_holds("W/\"1\", W/\"42\"", "42"));
        assert!(if_match_holds("*", "42"));
        assert!(!if_match_holds("W/\"41\"", "42"));
        assert!(!if_match_holds("W/\"420\"", "42"));
        assert_eq!(check_if_match(Some("W/\"41\""), "42").unwrap_err().status.as_u16(), 412);
        assert!(check_if_match(None, "42").is_ok());
        assert_eq!(if_match_revision(None).unwrap(), IfMatch::Any);
        assert_eq!(if_match_revision(Some("*")).unwrap(), IfMatch::Any);
        assert_eq!(if_match_revision(Some("W/\"7\"")).unwrap(), IfMatch::Revision(7));
        assert_eq!(if_match_revision(Some("\"7\"")).unwrap(), IfMatch::Revision(7));
        assert_eq!(if_match_revision(Some("W/\"7\", W/\"8\"")).unwrap(), IfMatch::Several(vec![7, 8]));
        assert_eq!(if_match_revision(Some("W/\"abc\"")).unwrap_err().status.as_u16(), 412);
    }

    #[test]
    fn debug_prints_no_personal_data() {
        let u = UserFields { user_name: "alice@secret".into(), ..UserFields::default() };
        assert!(!format!("{u:?}").contains("alice"));
    }
}
