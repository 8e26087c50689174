//! What IDMS serves through SCIM, as data: the User (core and the
//! enterprise extension) and Group attributes IDMS stores, with their
//! characteristics (RFC 7643 §2.2, §7); the discovery documents built from
//! them (`/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`); and the
//! `attributes` / `excludedAttributes` projection (RFC 7644 §3.4.2.5).
//!
//! Rules:
//! - only attributes IDMS keeps are published, so a client (and
//!   scim2-tester) never writes a value that would be dropped (no enterprise
//!   `organization`: IDMS keeps one org unit, read from `department`; no
//!   `primary` on emails: the one address kept has nothing to be primary
//!   over, and a client writing `primary: false` must read that back);
//! - `id` and `externalId` are `caseExact`, `userName` and Group
//!   `displayName` are unique (`server`) and not `caseExact`;
//! - a User's `displayName` is `readOnly` and *derived* from the given and
//!   family names: a write to it is ignored, not refused, because Entra ID
//!   sends it with every update; `name.formatted` and a member's `display`
//!   are not published (not kept, and a client replacing `name` or
//!   `members` must read back exactly what it wrote);
//! - `name` with `givenName` and `familyName` is required: IDMS keeps no
//!   person without both; `active` is required (it cannot be removed; a
//!   person always is or is not suspended);
//! - the projection always returns `id`, `schemas` and `meta`, never an
//!   attribute whose `returned` is `never`, and `request` attributes only
//!   when asked for.

use serde_json::{Map, Value, json};

use super::filter::{AttrPath, get_ci};
use super::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SPC_SCHEMA, USER_SCHEMA};

/// The resource types IDMS serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// A person.
    User,
    /// A directory group.
    Group,
}

impl ResourceKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::User, Self::Group];

    /// `User` or `Group` (the ResourceType id and `meta.resourceType`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// `/Users` or `/Groups`.
    #[must_use]
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }

    /// The core schema URN.
    #[must_use]
    pub fn core_schema(self) -> &'static str {
        match self {
            Self::User => USER_SCHEMA,
            Self::Group => GROUP_SCHEMA,
        }
    }

    /// The extension schema URNs.
    #[must_use]
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::User => &[ENTERPRISE_SCHEMA],
            Self::Group => &[],
        }
    }

    fn attrs(self) -> &'static [Attr] {
        match self {
            Self::User => USER_ATTRS,
            Self::Group => GROUP_ATTRS,
        }
    }
}

/// An attribute's data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// string
    String,
    /// boolean
    Boolean,
    /// decimal
    Decimal,
    /// integer
    Integer,
    /// dateTime (RFC 3339)
    DateTime,
    /// binary (base64)
    Binary,
    /// reference (a URI)
    Reference,
    /// complex
    Complex,
}

/// Who may change an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Only the service provider.
    ReadOnly,
    /// Anyone.
    ReadWrite,
    /// Set once, then never changed.
    Immutable,
    /// Written, never returned.
    WriteOnly,
}

/// When an attribute is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, whatever `attributes` says.
    Always,
    /// Never.
    Never,
    /// Unless excluded.
    Default,
    /// Only when asked for.
    Request,
}

/// Uniqueness of an attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// None.
    None,
    /// Within this service provider.
    Server,
    /// Globally.
    Global,
}

/// One attribute's definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// Name.
    pub name: &'static str,
    /// Data type.
    pub ty: AttrType,
    /// Multi-valued.
    pub multi_valued: bool,
    /// Required on create and replace.
    pub required: bool,
    /// Case-sensitive comparisons.
    pub case_exact: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// Returned.
    pub returned: Returned,
    /// Uniqueness.
    pub uniqueness: Uniqueness,
    /// A read-only value IDMS computes from others: writes are ignored.
    pub derived: bool,
    /// Canonical values.
    pub canonical_values: &'static [&'static str],
    /// For references: what they point to.
    pub reference_types: &'static [&'static str],
    /// For complex attributes.
    pub sub_attributes: &'static [Attr],
    /// Human-readable description.
    pub description: &'static str,
}

impl Attr {
    const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            derived: false,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            description,
        }
    }
    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    const fn complex(name: &'static str, sub: &'static [Attr], description: &'static str) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = sub;
        a
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn derived(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self.derived = true;
        self
    }
    const fn always(mut self) -> Self {
        self.returned = Returned::Always;
        self
    }
    const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }

    /// A sub-attribute by name, ignoring case.
    #[must_use]
    pub fn sub_attr(&self, name: &str) -> Option<&'static Attr> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The RFC 7643 §7 representation.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert(
            "type".into(),
            json!(match self.ty {
                AttrType::String => "string",
                AttrType::Boolean => "boolean",
                AttrType::Decimal => "decimal",
                AttrType::Integer => "integer",
                AttrType::DateTime => "dateTime",
                AttrType::Binary => "binary",
                AttrType::Reference => "reference",
                AttrType::Complex => "complex",
            }),
        );
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if matches!(self.ty, AttrType::String | AttrType::Reference | AttrType::Binary) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if self.ty == AttrType::Reference {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert(
            "mutability".into(),
            json!(match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            }),
        );
        m.insert(
            "returned".into(),
            json!(match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            }),
        );
        if self.ty != AttrType::Complex && self.ty != AttrType::Boolean {
            m.insert(
                "uniqueness".into(),
                json!(match self.uniqueness {
                    Uniqueness::None => "none",
                    Uniqueness::Server => "server",
                    Uniqueness::Global => "global",
                }),
            );
        }
        if self.ty == AttrType::Complex {
            m.insert("subAttributes".into(), Value::Array(self.sub_attributes.iter().map(Attr::to_json).collect()));
        }
        Value::Object(m)
    }
}

/// `id`, `externalId`, `meta`: on every resource (RFC 7643 §3.1), not
/// listed in the schemas' `attributes`.
pub static COMMON_ATTRS: &[Attr] = &[
    Attr::string("id", "IDMS's identifier of the resource, issued by IDMS.").case_exact().read_only().always().unique(),
    Attr::string("externalId", "The provisioning client's identifier of the resource (the directory link).")
        .case_exact(),
    Attr::complex("meta", META_SUB, "Resource metadata.").read_only(),
];

static META_SUB: &[Attr] = &[
    Attr::string("resourceType", "User or Group.").case_exact().read_only(),
    Attr::new("created", AttrType::DateTime, "When the resource was created.").read_only(),
    Attr::new("lastModified", AttrType::DateTime, "When the resource was last changed.").read_only(),
    Attr::new("location", AttrType::Reference, "The resource's URI.").refs(&["uri"]).case_exact().read_only(),
    Attr::string("version", "The resource's weak ETag.").case_exact().read_only(),
];

// No `formatted`: IDMS does not keep it, and a derived value would make a
// client that replaces `name` read back something other than it wrote.
static NAME_SUB: &[Attr] = &[
    Attr::string("familyName", "The family name.").required(),
    Attr::string("givenName", "The given name.").required(),
];

static EMAIL_SUB: &[Attr] = &[
    Attr::string("value", "The work email address."),
    Attr::string("type", "Always work: IDMS keeps one work address.").canonical(&["work"]),
];

static PHONE_SUB: &[Attr] = &[
    Attr::string("value", "The work phone number."),
    Attr::string("type", "Always work: IDMS keeps one work number.").canonical(&["work"]),
];

static USER_GROUPS_SUB: &[Attr] = &[
    Attr::string("value", "The group's id.").read_only(),
    Attr::new("$ref", AttrType::Reference, "The group's URI.").refs(&["Group"]).read_only(),
    Attr::string("display", "The group's displayName.").read_only(),
];

static USER_ATTRS: &[Attr] = &[
    Attr::string("userName", "Unique identifier of the person in the directory, usually their sign-in name.")
        .required()
        .unique(),
    Attr::complex("name", NAME_SUB, "The person's name: IDMS needs the given and the family name.").required(),
    Attr::string("displayName", "The name to display, given name then family name (derived).").derived(),
    Attr::complex("emails", EMAIL_SUB, "The person's work email address (at most one).").multi(),
    Attr::complex("phoneNumbers", PHONE_SUB, "The person's work phone number (at most one).").multi(),
    // Required: a person always is or is not suspended, so `active` cannot
    // be removed (a create without it is taken as true).
    Attr::new(
        "active",
        AttrType::Boolean,
        "False suspends the person; true resumes only a suspension the directory made. Taken as true when a create leaves it out.",
    )
    .required(),
    Attr::complex("groups", USER_GROUPS_SUB, "The directory groups the person is a member of, from Group membership.")
        .multi()
        .read_only(),
];

static ENTERPRISE_ATTRS: &[Attr] = &[
    Attr::string("employeeNumber", "The person's employee number."),
    Attr::string("department", "The person's department, mapped to an IDMS org unit."),
];

static MEMBER_SUB: &[Attr] = &[
    Attr::string("value", "The member's id.").immutable(),
    Attr::new("$ref", AttrType::Reference, "The member's URI.").refs(&["User"]).immutable(),
];

static GROUP_ATTRS: &[Attr] = &[
    Attr::string("displayName", "The group's name, unique in IDMS.").required().unique(),
    Attr::complex("members", MEMBER_SUB, "The people in the group.").multi(),
];

/// An attribute path resolved against a resource kind's schemas.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// Set when the attribute lives in an extension: its URN (the key of
    /// the extension's object in the resource).
    pub extension: Option<&'static str>,
    /// The attribute.
    pub attr: &'static Attr,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static Attr>,
}

impl Resolved {
    /// The sub-attribute if named, else the attribute.
    #[must_use]
    pub fn leaf(&self) -> &'static Attr {
        self.sub.unwrap_or(self.attr)
    }
}

fn find(attrs: &'static [Attr], name: &str) -> Option<&'static Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn extension_attrs(urn: &str) -> Option<(&'static str, &'static [Attr])> {
    urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA).then_some((ENTERPRISE_SCHEMA, ENTERPRISE_ATTRS))
}

/// The extension URN `urn` names for `kind`, spelled as published.
#[must_use]
pub fn extension_urn(kind: ResourceKind, urn: &str) -> Option<&'static str> {
    kind.extensions().iter().copied().find(|e| e.eq_ignore_ascii_case(urn))
}

/// Resolves `path` for `kind`: under the core URN (or none) the core and
/// common attributes, then — without a URN — the extensions' (clients send
/// `employeeNumber` bare); under an extension URN that extension's.
#[must_use]
pub fn resolve(kind: ResourceKind, path: &AttrPath) -> Option<Resolved> {
    let (extension, attr) = match path.urn.as_deref() {
        Some(urn) if urn.eq_ignore_ascii_case(kind.core_schema()) => {
            (None, find(kind.attrs(), &path.name).or_else(|| find(COMMON_ATTRS, &path.name))?)
        }
        Some(urn) => {
            let ext = extension_urn(kind, urn)?;
            let (ext, attrs) = extension_attrs(ext)?;
            (Some(ext), find(attrs, &path.name)?)
        }
        None => match find(kind.attrs(), &path.name).or_else(|| find(COMMON_ATTRS, &path.name)) {
            Some(a) => (None, a),
            None => kind
                .extensions()
                .iter()
                .filter_map(|e| extension_attrs(e))
                .find_map(|(urn, attrs)| find(attrs, &path.name).map(|a| (Some(urn), a)))?,
        },
    };
    let sub = match &path.sub {
        Some(s) => Some(attr.sub_attr(s)?),
        None => None,
    };
    Some(Resolved { extension, attr, sub })
}

// ---- discovery documents ---------------------------------------------------

/// Default `count` of a list when the client names none.
pub const DEFAULT_COUNT: usize = 100;
/// Most resources one list answers (`filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;
/// Largest request body accepted, bytes (`bulk.maxPayloadSize`).
pub const MAX_PAYLOAD: usize = 1024 * 1024;

fn meta(resource_type: &str, location: String) -> Value {
    json!({"resourceType": resource_type, "location": location})
}

/// `/ServiceProviderConfig`; `base` is the service's URL up to `/scim/v2`.
#[must_use]
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": format!("{base}/Schemas"),
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": MAX_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A bearer token of the provisioner role: idms token create --name NAME --role provisioner",
            "primary": true
        }],
        "meta": meta("ServiceProviderConfig", format!("{base}/ServiceProviderConfig")),
    })
}

fn schema_doc(base: &str, id: &str, name: &str, description: &str, attrs: &[Attr]) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attrs.iter().map(Attr::to_json).collect::<Vec<_>>(),
        "meta": meta("Schema", format!("{base}/Schemas/{id}")),
    })
}

/// `/Schemas`: core User, EnterpriseUser, core Group.
#[must_use]
pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema_doc(base, USER_SCHEMA, "User", "A person IDMS issues access cards to.", USER_ATTRS),
        schema_doc(base, ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRS),
        schema_doc(base, GROUP_SCHEMA, "Group", "A directory group; access levels can be assigned to it.", GROUP_ATTRS),
    ]
}

/// `/Schemas/{id}`.
#[must_use]
pub fn schema(base: &str, id: &str) -> Option<Value> {
    schemas(base).into_iter().find(|s| s["id"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
}

fn resource_type_doc(base: &str, kind: ResourceKind) -> Value {
    let extensions: Vec<Value> = kind.extensions().iter().map(|e| json!({"schema": e, "required": false})).collect();
    let mut doc = json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": match kind {
            ResourceKind::User => "People",
            ResourceKind::Group => "Directory groups",
        },
        "schema": kind.core_schema(),
        "meta": meta("ResourceType", format!("{base}/ResourceTypes/{}", kind.name())),
    });
    if !extensions.is_empty()
        && let Some(m) = doc.as_object_mut()
    {
        m.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    doc
}

/// `/ResourceTypes`.
#[must_use]
pub fn resource_types(base: &str) -> Vec<Value> {
    ResourceKind::ALL.iter().map(|k| resource_type_doc(base, *k)).collect()
}

/// `/ResourceTypes/{id}`.
#[must_use]
pub fn resource_type(base: &str, id: &str) -> Option<Value> {
    ResourceKind::ALL.iter().find(|k| k.name().eq_ignore_ascii_case(id)).map(|k| resource_type_doc(base, *k))
}

// ---- projection ------------------------------------------------------------

/// Parses an `attributes` / `excludedAttributes` value (comma-separated
/// paths; a bare extension URN names the whole extension). A malformed
/// path is `invalidValue`; an unknown one is kept and selects nothing.
pub fn parse_attribute_list(list: &str) -> Result<Vec<AttrPath>, super::ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            AttrPath::parse(s).ok_or_else(|| super::ScimError::invalid_value("malformed attribute path in attributes"))
        })
        .collect()
}

/// Where a top-level member of a resource lives, for the projection.
fn member_attr(kind: ResourceKind, key: &str) -> Option<&'static Attr> {
    find(kind.attrs(), key).or_else(|| find(COMMON_ATTRS, key))
}

fn always_kept(key: &str) -> bool {
    ["id", "schemas", "meta"].iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `path` selects the member `key` of the object at `urn` (None:
/// the top level) — as a whole (`true`, None) or one of its
/// sub-attributes (`true`, Some(sub)).
fn selects<'p>(kind: ResourceKind, path: &'p AttrPath, urn: Option<&str>, key: &str) -> Option<Option<&'p str>> {
    let path_urn = match path.urn.as_deref() {
        Some(u) if u.eq_ignore_ascii_case(kind.core_schema()) => None,
        other => other,
    };
    let same_container = match (urn, path_urn) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        // a bare name finds an extension attribute too
        (Some(a), None) => resolve(kind, &AttrPath::simple(&path.name))
            .is_some_and(|r| r.extension.is_some_and(|e| e.eq_ignore_ascii_case(a))),
        (None, Some(_)) => false,
    };
    (same_container && path.name.eq_ignore_ascii_case(key)).then_some(path.sub.as_deref())
}

/// Whether a path names the whole extension object `urn`
/// (`attributes=urn:...:enterprise:2.0:User`).
fn names_extension(path: &AttrPath, urn: &str) -> bool {
    path.sub.is_none() && path.urn.as_deref().is_some_and(|u| format!("{u}:{}", path.name).eq_ignore_ascii_case(urn))
}

fn keep_sub(value: &Value, subs: &[&str]) -> Value {
    let pick = |v: &Value| -> Value {
        match v.as_object() {
            Some(o) => Value::Object(
                o.iter()
                    .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => v.clone(),
        }
    };
    match value {
        Value::Array(a) => Value::Array(a.iter().map(pick).collect()),
        v => pick(v),
    }
}

fn drop_sub(value: &Value, subs: &[&str]) -> Value {
    let strip = |v: &Value| -> Value {
        match v.as_object() {
            Some(o) => Value::Object(
                o.iter()
                    .filter(|(k, _)| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            None => v.clone(),
        }
    };
    match value {
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        v => strip(v),
    }
}

/// What one member becomes under the projection: kept whole, kept with
/// only some sub-attributes, dropped.
fn project_member(
    kind: ResourceKind,
    urn: Option<&str>,
    key: &str,
    value: &Value,
    attr: Option<&'static Attr>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Option<Value> {
    if urn.is_none() && always_kept(key) {
        return Some(value.clone());
    }
    let returned = attr.map_or(Returned::Default, |a| a.returned);
    match returned {
        Returned::Never => return None,
        Returned::Always => return Some(value.clone()),
        _ => {}
    }
    if !attributes.is_empty() {
        let hits: Vec<Option<&str>> = attributes.iter().filter_map(|p| selects(kind, p, urn, key)).collect();
        if hits.is_empty() {
            return None;
        }
        if hits.iter().any(Option::is_none) {
            return Some(value.clone());
        }
        let subs: Vec<&str> = hits.into_iter().flatten().collect();
        return Some(keep_sub(value, &subs));
    }
    if returned == Returned::Request {
        return None;
    }
    let hits: Vec<Option<&str>> = excluded.iter().filter_map(|p| selects(kind, p, urn, key)).collect();
    if hits.iter().any(Option::is_none) {
        return None;
    }
    let subs: Vec<&str> = hits.into_iter().flatten().collect();
    if subs.is_empty() { Some(value.clone()) } else { Some(drop_sub(value, &subs)) }
}

/// Applies `attributes` (when non-empty) or else `excludedAttributes` to a
/// resource's JSON (RFC 7644 §3.4.2.5).
#[must_use]
pub fn project(kind: ResourceKind, resource: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if let Some(ext) = extension_urn(kind, key) {
            let Some(ext_obj) = value.as_object() else { continue };
            let whole_in = attributes.iter().any(|p| names_extension(p, ext));
            let whole_out = attributes.is_empty() && excluded.iter().any(|p| names_extension(p, ext));
            if whole_out {
                continue;
            }
            let attrs = extension_attrs(ext).map_or(&[][..], |(_, a)| a);
            let mut inner = Map::new();
            for (k, v) in ext_obj {
                let attr = find(attrs, k);
                let kept = if whole_in {
                    Some(v.clone())
                } else {
                    project_member(kind, Some(ext), k, v, attr, attributes, excluded)
                };
                if let Some(v) = kept {
                    inner.insert(k.clone(), v);
                }
            }
            if !inner.is_empty() {
                out.insert(key.clone(), Value::Object(inner));
            }
            continue;
        }
        if let Some(v) = project_member(kind, None, key, value, member_attr(kind, key), attributes, excluded) {
            out.insert(key.clone(), v);
        }
    }
    // `schemas` names only the extensions still present.
    if let Some(Value::Array(schemas)) = out.get("schemas").cloned() {
        let kept: Vec<Value> = schemas
            .into_iter()
            .filter(|s| {
                s.as_str().is_none_or(|s| {
                    extension_urn(kind, s).is_none() || get_ci(&Value::Object(out.clone()), s).is_some()
                })
            })
            .collect();
        out.insert("schemas".into(), Value::Array(kept));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://idms.example/scim/v2";

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": "0A1B2C3D4E5F6",
            "externalId": "e-1",
            "userName": "alice@example.com",
            "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
            "displayName": "Alice Smith",
            "active": true,
            "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
            ENTERPRISE_SCHEMA: {"employeeNumber": "7", "department": "Ops"},
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    fn attr<'a>(doc: &'a Value, name: &str) -> &'a Value {
        doc["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()
    }

    #[test]
    fn user_schema_characteristics() {
        let doc = schema(BASE, USER_SCHEMA).unwrap();
        assert_eq!(doc["id"], USER_SCHEMA);
        assert_eq!(doc["meta"]["location"], format!("{BASE}/Schemas/{USER_SCHEMA}"));
        let user_name = attr(&doc, "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(attr(&doc, "displayName")["mutability"], "readOnly");
        assert_eq!(attr(&doc, "active")["required"], true);
        assert_eq!(attr(&doc, "groups")["mutability"], "readOnly");
        assert_eq!(attr(&doc, "groups")["multiValued"], true);
        let emails = attr(&doc, "emails");
        assert_eq!(emails["type"], "complex");
        assert_eq!(emails["subAttributes"][1]["canonicalValues"], json!(["work"]));
        let name = attr(&doc, "name");
        assert_eq!(name["required"], true);
        assert!(
            name["subAttributes"].as_array().unwrap().iter().all(|a| a["required"] == true && a["name"] != "formatted")
        );
        assert!(doc["attributes"].as_array().unwrap().iter().all(|a| a["name"] != "id"), "id is common");
        let ext = schema(BASE, ENTERPRISE_SCHEMA).unwrap();
        let names: Vec<&str> =
            ext["attributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["employeeNumber", "department"], "organization is not kept: not published");
        let group = schema(BASE, GROUP_SCHEMA).unwrap();
        assert_eq!(attr(&group, "displayName")["uniqueness"], "server");
        let members = attr(&group, "members");
        assert_eq!(members["subAttributes"][1]["referenceTypes"], json!(["User"]));
        assert!(schema(BASE, "urn:nope").is_none());
        assert_eq!(schemas(BASE).len(), 3);
    }

    #[test]
    fn resource_types_and_config() {
        let rts = resource_types(BASE);
        assert_eq!(rts.len(), 2);
        let user = resource_type(BASE, "user").unwrap();
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_SCHEMA);
        assert_eq!(user["schemaExtensions"][0]["schema"], ENTERPRISE_SCHEMA);
        assert_eq!(user["schemaExtensions"][0]["required"], false);
        assert_eq!(user["meta"]["location"], format!("{BASE}/ResourceTypes/User"));
        let group = resource_type(BASE, "Group").unwrap();
        assert!(group.get("schemaExtensions").is_none());
        assert!(resource_type(BASE, "Device").is_none());
        let spc = service_provider_config(BASE);
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["filter"]["maxResults"], MAX_RESULTS);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    }

    #[test]
    fn resolve_paths() {
        let r = resolve(ResourceKind::User, &AttrPath::parse("name.FAMILYNAME").unwrap()).unwrap();
        assert_eq!(r.leaf().name, "familyName");
        let r = resolve(ResourceKind::User, &AttrPath::parse("externalId").unwrap()).unwrap();
        assert!(r.attr.case_exact);
        let r =
            resolve(ResourceKind::User, &AttrPath::parse(&format!("{ENTERPRISE_SCHEMA}:department")).unwrap()).unwrap();
        assert_eq!(r.extension, Some(ENTERPRISE_SCHEMA));
        let r = resolve(ResourceKind::User, &AttrPath::parse("employeeNumber").unwrap()).unwrap();
        assert_eq!(r.extension, Some(ENTERPRISE_SCHEMA));
        assert!(resolve(ResourceKind::Group, &AttrPath::parse("employeeNumber").unwrap()).is_none());
        assert!(resolve(ResourceKind::User, &AttrPath::parse("name.middleName").unwrap()).is_none());
        assert!(
            resolve(ResourceKind::User, &AttrPath::parse("meta.lastModified").unwrap())
                .is_some_and(|r| r.leaf().ty == AttrType::DateTime)
        );
    }

    #[test]
    fn attributes_keeps_only_those_plus_always() {
        let attrs = parse_attribute_list("userName, name.givenName").unwrap();
        let p = project(ResourceKind::User, &user(), &attrs, &[]);
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "meta", "name", "schemas", "userName"]);
        assert_eq!(p["name"], json!({"givenName": "Alice"}));
        assert_eq!(p["schemas"], json!([USER_SCHEMA]), "extension gone from schemas");
        let attrs = parse_attribute_list(
            "emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        )
        .unwrap();
        let p = project(ResourceKind::User, &user(), &attrs, &[]);
        assert_eq!(p["emails"], json!([{"value": "alice@example.com"}]));
        assert_eq!(p[ENTERPRISE_SCHEMA], json!({"employeeNumber": "7"}));
        assert!(p.get("userName").is_none());
        let attrs = parse_attribute_list(ENTERPRISE_SCHEMA).unwrap();
        let p = project(ResourceKind::User, &user(), &attrs, &[]);
        assert_eq!(p[ENTERPRISE_SCHEMA], json!({"employeeNumber": "7", "department": "Ops"}));
        let attrs = parse_attribute_list("urn:ietf:params:scim:schemas:core:2.0:User:USERNAME").unwrap();
        let p = project(ResourceKind::User, &user(), &attrs, &[]);
        assert_eq!(p["userName"], "alice@example.com");
    }

    #[test]
    fn excluded_drops_those_but_never_id_schemas_meta() {
        let ex = parse_attribute_list("emails,id,meta,schemas,name.formatted,department").unwrap();
        let p = project(ResourceKind::User, &user(), &[], &ex);
        assert!(p.get("emails").is_none());
        assert_eq!(p["id"], "0A1B2C3D4E5F6");
        assert!(p.get("meta").is_some() && p.get("schemas").is_some());
        assert_eq!(p["name"], json!({"givenName": "Alice", "familyName": "Smith"}));
        assert_eq!(p[ENTERPRISE_SCHEMA], json!({"employeeNumber": "7"}));
        let ex = parse_attribute_list(ENTERPRISE_SCHEMA).unwrap();
        let p = project(ResourceKind::User, &user(), &[], &ex);
        assert!(p.get(ENTERPRISE_SCHEMA).is_none());
        assert_eq!(p["schemas"], json!([USER_SCHEMA]));
        // nothing asked: unchanged
        assert_eq!(project(ResourceKind::User, &user(), &[], &[]), user());
        assert!(parse_attribute_list("a.b.c").is_err());
    }
}
