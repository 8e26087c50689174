//! PATCH (RFC 7644 §3.5.2): a PatchOp parsed, then applied to a resource's
//! JSON — all operations or none.
//!
//! What it accepts, beyond the RFC's own forms:
//! - op names in any case (`Add`, `Replace`, `Remove`: Entra ID);
//! - booleans sent as strings (`"active": "False"`: Entra ID);
//! - `replace` without `path` whose value holds URN-prefixed keys
//!   (`"urn:…:enterprise:2.0:User:department"`), dotted keys
//!   (`"name.givenName"`: Entra ID), or a whole extension object;
//!   Okta's `{"op":"replace","value":{"active":false}}`;
//! - `add`/`replace` through a value filter that selects nothing, when the
//!   filter is only `sub eq value` terms (`emails[type eq "work"].value`):
//!   a new value with those sub-attributes is added (Entra ID sends this
//!   for a person who had no work address yet); any other filter that
//!   selects nothing is `noTarget`;
//! - `remove` of `members` with a `value` list (Entra ID) removes those
//!   members only; `remove` through a filter that selects nothing is a
//!   no-op (removing a member twice is not an error);
//! - attributes IDMS does not publish are accepted and dropped (an
//!   identity provider's default mappings send `title`, `addresses`, …), as
//!   are writes to derived attributes (a User's `displayName`).
//!
//! Errors: a malformed path is `invalidPath`; `remove` without a path is
//! `noTarget`; a value of the wrong type, or the removal of a required
//! attribute, `invalidValue`; a change to a `readOnly` attribute (`id`,
//! `meta`, `groups`) or to an `immutable` one that holds a value,
//! `mutability`. Writing an extension attribute adds the extension's URN to
//! `schemas`; emptying it removes both.

use serde_json::{Map, Value};

use super::PATCH_OP_SCHEMA;
use super::error::ScimError;
use super::filter::{AttrPath, Filter, get_ci};
use super::schema::{self, Attr, AttrType, Mutability, ResourceKind};

/// Most operations one PatchOp may carry.
pub const MAX_OPERATIONS: usize = 1_000;

/// The operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// add
    Add,
    /// replace
    Replace,
    /// remove
    Remove,
}

/// What a path names, resolved against the schema.
#[derive(Debug, Clone)]
pub enum Target {
    /// A whole extension object (`urn:…:enterprise:2.0:User`).
    Extension(&'static str),
    /// An attribute, maybe through a value filter, maybe one sub-attribute.
    Attr {
        /// Set when the attribute lives in an extension.
        ext: Option<&'static str>,
        /// The attribute.
        attr: &'static Attr,
        /// `attr[filter]`.
        filter: Option<Filter>,
        /// `.sub`.
        sub: Option<&'static Attr>,
    },
    /// An attribute IDMS does not publish: the operation is dropped.
    Unknown,
}

/// One operation.
#[derive(Clone)]
pub struct PatchOperation {
    /// add / replace / remove.
    pub op: Op,
    /// The target; None for an add or replace without `path`.
    pub target: Option<Target>,
    /// The value.
    pub value: Option<Value>,
}

/// A parsed PatchOp.
#[derive(Clone)]
pub struct PatchRequest {
    /// The operations, in order.
    pub operations: Vec<PatchOperation>,
}

// Values are personal data: Debug prints neither them nor the filters.
impl std::fmt::Debug for PatchOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchOperation").field("op", &self.op).finish_non_exhaustive()
    }
}
impl std::fmt::Debug for PatchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchRequest").field("operations", &self.operations).finish()
    }
}

/// Parses a PATCH path for `kind`.
pub fn parse_path(kind: ResourceKind, path: &str) -> Result<Target, ScimError> {
    let path = path.trim();
    if path.len() > super::filter::MAX_LEN {
        return Err(ScimError::invalid_path("path too long"));
    }
    if let Some(ext) = schema::extension_urn(kind, path) {
        return Ok(Target::Extension(ext));
    }
    let (head, filter, sub) = match path.find('[') {
        None => (path, None, None),
        Some(open) => {
            let close = closing_bracket(path, open).ok_or_else(|| ScimError::invalid_path("unclosed '['"))?;
            let inner = &path[open + 1..close];
            let filter =
                Filter::parse(inner).map_err(|e| ScimError::invalid_path(format!("value filter: {}", e.detail)))?;
            let rest = &path[close + 1..];
            let sub = match rest {
                "" => None,
                r => Some(
                    r.strip_prefix('.')
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| ScimError::invalid_path("expected '.sub' after ']'"))?,
                ),
            };
            (&path[..open], Some(filter), sub)
        }
    };
    let mut ap = AttrPath::parse(head).ok_or_else(|| ScimError::invalid_path("malformed attribute path"))?;
    if filter.is_some() {
        if ap.sub.is_some() {
            return Err(ScimError::invalid_path("a value filter follows the attribute, not a sub-attribute"));
        }
        ap.sub = sub.map(str::to_owned);
        if sub.is_some_and(|s| AttrPath::parse(s).is_none_or(|p| p.urn.is_some() || p.sub.is_some())) {
            return Err(ScimError::invalid_path("malformed sub-attribute"));
        }
    }
    target_of(kind, &ap, filter)
}

fn target_of(kind: ResourceKind, ap: &AttrPath, filter: Option<Filter>) -> Result<Target, ScimError> {
    let Some(r) = schema::resolve(kind, ap) else {
        // A known attribute with an unknown sub-attribute is a client error;
        // an attribute IDMS does not keep is dropped.
        let parent = AttrPath { sub: None, ..ap.clone() };
        if ap.sub.is_some() && schema::resolve(kind, &parent).is_some() {
            return Err(ScimError::invalid_path(format!("no sub-attribute {ap}")));
        }
        if ap
            .urn
            .as_deref()
            .is_some_and(|u| !u.eq_ignore_ascii_case(kind.core_schema()) && schema::extension_urn(kind, u).is_none())
        {
            return Err(ScimError::invalid_path(format!("unknown schema in {ap}")));
        }
        return Ok(Target::Unknown);
    };
    if let Some(f) = &filter {
        if r.attr.ty != AttrType::Complex || !r.attr.multi_valued {
            return Err(ScimError::invalid_path(format!("{} takes no value filter", r.attr.name)));
        }
        f.check(kind, Some(r.attr)).map_err(|e| ScimError::invalid_path(format!("value filter: {}", e.detail)))?;
    }
    if r.sub.is_some() && r.attr.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!("{} has no sub-attributes", r.attr.name)));
    }
    Ok(Target::Attr { ext: r.extension, attr: r.attr, filter, sub: r.sub })
}

fn closing_bracket(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let (mut i, mut in_str, mut depth) = (open, false, 0usize);
    while i < b.len() {
        match (b[i], in_str) {
            (b'\\', true) => i += 1,
            (b'"', _) => in_str = !in_str,
            (b'[', false) => depth += 1,
            (b']', false) => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

impl PatchRequest {
    /// Parses a PatchOp body for `kind`.
    pub fn parse(kind: ResourceKind, body: &Value) -> Result<Self, ScimError> {
        let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a PatchOp is a JSON object"))?;
        if let Some(schemas) = get_ci(body, "schemas") {
            let ok = schemas
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))));
            if !ok {
                return Err(ScimError::invalid_syntax("schemas must name the PatchOp message"));
            }
        }
        let ops = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .and_then(|(_, v)| v.as_array())
            .filter(|a| !a.is_empty())
            .ok_or_else(|| ScimError::invalid_syntax("Operations must be a non-empty list"))?;
        if ops.len() > MAX_OPERATIONS {
            return Err(ScimError::too_many(format!("more than {MAX_OPERATIONS} operations")));
        }
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, o)| {
                parse_operation(kind, o)
                    .map_err(|e| ScimError { detail: format!("operation {}: {}", i + 1, e.detail), ..e })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { operations })
    }

    /// Applies every operation to `resource` in order; on an error the
    /// resource is left as it was.
    pub fn apply(&self, kind: ResourceKind, resource: &mut Value) -> Result<(), ScimError> {
        let mut work = resource.as_object().cloned().ok_or_else(ScimError::internal)?;
        for (i, op) in self.operations.iter().enumerate() {
            apply_operation(kind, &mut work, op)
                .map_err(|e| ScimError { detail: format!("operation {}: {}", i + 1, e.detail), ..e })?;
        }
        *resource = Value::Object(work);
        Ok(())
    }
}

fn parse_operation(kind: ResourceKind, o: &Value) -> Result<PatchOperation, ScimError> {
    if !o.is_object() {
        return Err(ScimError::invalid_syntax("an operation is a JSON object"));
    }
    let op = match get_ci(o, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("add") => Op::Add,
        Some("replace") => Op::Replace,
        Some("remove") => Op::Remove,
        _ => return Err(ScimError::invalid_syntax("op must be add, replace or remove")),
    };
    let target = match get_ci(o, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(parse_path(kind, p)?),
        Some(_) => return Err(ScimError::invalid_path("path must be a string")),
    };
    let value = get_ci(o, "value").cloned();
    match (op, &target, &value) {
        (Op::Remove, None, _) => Err(ScimError::no_target("remove needs a path")),
        (Op::Add | Op::Replace, None, v) if !v.as_ref().is_some_and(Value::is_object) => {
            Err(ScimError::invalid_value("without a path the value must be an object"))
        }
        (Op::Add, Some(_), None | Some(Value::Null)) => Err(ScimError::invalid_value("add needs a value")),
        _ => Ok(PatchOperation { op, target, value }),
    }
}

// ---- application ------------------------------------------------------------

/// Removes the member named `name` (any case) and returns its value.
fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    map.remove(&key)
}

fn get<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The object the attribute lives in (the resource, or its extension's
/// object, created with its URN in `schemas` when `create`).
fn container<'a>(
    res: &'a mut Map<String, Value>,
    ext: Option<&'static str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    let Some(urn) = ext else { return Some(res) };
    if get(res, urn).is_none_or(|v| !v.is_object()) {
        if !create {
            return None;
        }
        take(res, urn);
        res.insert(urn.to_owned(), Value::Object(Map::new()));
        if let Some(Value::Array(schemas)) = res.get_mut("schemas")
            && !schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        {
            schemas.push(Value::String(urn.to_owned()));
        }
    }
    let key = res.keys().find(|k| k.eq_ignore_ascii_case(urn))?.clone();
    res.get_mut(&key)?.as_object_mut()
}

/// Drops an extension object left empty, and its URN from `schemas`.
fn tidy_extension(res: &mut Map<String, Value>, ext: Option<&'static str>) {
    let Some(urn) = ext else { return };
    if get(res, urn).is_some_and(|v| v.as_object().is_some_and(Map::is_empty)) {
        take(res, urn);
        if let Some(Value::Array(schemas)) = res.get_mut("schemas") {
            schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        }
    }
}

/// A value of `attr`'s type (one value of a multi-valued one), with the
/// quirks: booleans as strings, numbers for strings.
fn coerce(attr: &'static Attr, v: &Value) -> Result<Value, ScimError> {
    let wrong = || ScimError::invalid_value(format!("{} must be a {}", attr.name, type_name(attr.ty)));
    Ok(match (attr.ty, v) {
        (AttrType::Boolean, Value::Bool(_)) => v.clone(),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => v.clone(),
        (AttrType::String, Value::Number(n)) => Value::String(n.to_string()),
        (AttrType::DateTime, Value::String(s)) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| wrong())?;
            v.clone()
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (AttrType::Decimal, Value::Number(_)) => v.clone(),
        (AttrType::Complex, Value::Object(o)) => {
            let mut out = Map::new();
            for (k, sv) in o {
                // Unknown and derived sub-attributes are dropped.
                let Some(sub) = attr.sub_attr(k) else { continue };
                if sub.derived || sv.is_null() {
                    continue;
                }
                out.insert(sub.name.to_owned(), coerce(sub, sv)?);
            }
            Value::Object(out)
        }
        _ => return Err(wrong()),
    })
}

fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex value",
    }
}

/// The values of a multi-valued attribute: an array, or one value.
fn coerce_many(attr: &'static Attr, v: &Value) -> Result<Vec<Value>, ScimError> {
    match v {
        Value::Array(a) => a.iter().filter(|x| !x.is_null()).map(|x| coerce(attr, x)).collect(),
        x => Ok(vec![coerce(attr, x)?]),
    }
}

/// Two values of a multi-valued attribute are the same value: same
/// `value` when both have one, else equal.
fn same_value(a: &Value, b: &Value) -> bool {
    match (get_ci(a, "value"), get_ci(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_operation(kind: ResourceKind, res: &mut Map<String, Value>, op: &PatchOperation) -> Result<(), ScimError> {
    match &op.target {
        None => {
            let Some(Value::Object(members)) = &op.value else {
                return Err(ScimError::invalid_value("without a path the value must be an object"));
            };
            for (key, v) in members {
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let target = match schema::extension_urn(kind, key) {
                    Some(ext) => Target::Extension(ext),
                    None => {
                        let ap = AttrPath::parse(key)
                            .ok_or_else(|| ScimError::invalid_path("malformed attribute name in value"))?;
                        target_of(kind, &ap, None)?
                    }
                };
                let op_here = if v.is_null() { Op::Remove } else { op.op };
                apply_target(kind, res, op_here, &target, Some(v))?;
            }
            Ok(())
        }
        Some(target) => {
            let op_here =
                if op.op == Op::Replace && op.value.as_ref().is_none_or(Value::is_null) { Op::Remove } else { op.op };
            apply_target(kind, res, op_here, target, op.value.as_ref())
        }
    }
}

fn apply_target(
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: Op,
    target: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match target {
        Target::Unknown => Ok(()),
        Target::Extension(urn) => {
            if op == Op::Remove {
                take(res, urn);
                tidy_extension(res, Some(urn));
                if let Some(Value::Array(schemas)) = res.get_mut("schemas") {
                    schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
                }
                return Ok(());
            }
            let Some(Value::Object(members)) = value else {
                return Err(ScimError::invalid_value("an extension's value is an object"));
            };
            for (k, v) in members {
                let ap = AttrPath {
                    urn: Some((*urn).to_owned()),
                    ..AttrPath::parse(k).ok_or_else(|| ScimError::invalid_path("malformed attribute name in value"))?
                };
                let t = target_of(kind, &ap, None)?;
                apply_target(kind, res, if v.is_null() { Op::Remove } else { op }, &t, Some(v))?;
            }
            Ok(())
        }
        Target::Attr { ext, attr, filter, sub } => {
            let leaf = sub.unwrap_or(attr);
            if attr.derived || leaf.derived {
                return Ok(());
            }
            if attr.mutability == Mutability::ReadOnly || leaf.mutability == Mutability::ReadOnly {
                // Sending back the id the resource has is not a change.
                let unchanged =
                    op != Op::Remove && sub.is_none() && value.is_some_and(|v| get(res, attr.name) == Some(v));
                return if unchanged {
                    Ok(())
                } else {
                    Err(ScimError::mutability(format!("{} is readOnly", leaf.name)))
                };
            }
            if op == Op::Remove && filter.is_none() && (sub.map_or(attr.required, |s| s.required)) {
                return Err(ScimError::invalid_value(format!("{} is required", leaf.name)));
            }
            let result = match filter {
                Some(f) => apply_filtered(res, *ext, attr, f, *sub, op, value),
                None => apply_plain(res, *ext, attr, *sub, op, value),
            };
            tidy_extension(res, *ext);
            result
        }
    }
}

fn apply_plain(
    res: &mut Map<String, Value>,
    ext: Option<&'static str>,
    attr: &'static Attr,
    sub: Option<&'static Attr>,
    op: Op,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(c) = container(res, ext, op != Op::Remove) else { return Ok(()) };
    let current = take(c, attr.name);
    let null = Value::Null;
    let value = value.unwrap_or(&null);
    let new = match (sub, op) {
        (None, Op::Remove) => {
            // Entra ID removes members by listing them in `value`.
            match (attr.multi_valued, value, current) {
                (true, Value::Array(gone), Some(Value::Array(mut have))) if !gone.is_empty() => {
                    have.retain(|h| !gone.iter().any(|g| same_value(h, g)));
                    Some(Value::Array(have))
                }
                _ => None,
            }
        }
        (None, _) if attr.multi_valued => {
            let incoming = coerce_many(attr, value)?;
            let mut have = match (op, current) {
                (Op::Add, Some(Value::Array(a))) => a,
                (Op::Add, Some(v)) if !v.is_null() => vec![v],
                _ => Vec::new(),
            };
            for v in incoming {
                match have.iter().position(|h| same_value(h, &v)) {
                    Some(i) if op == Op::Add => merge(&mut have[i], &v),
                    _ => have.push(v),
                }
            }
            Some(Value::Array(have))
        }
        (None, _) if attr.ty == AttrType::Complex => {
            // add and replace both merge the sub-attributes given (§3.5.2.1, §3.5.2.3).
            let incoming = coerce(attr, value)?;
            let mut have = current.filter(Value::is_object).unwrap_or_else(|| Value::Object(Map::new()));
            merge(&mut have, &incoming);
            if let (Some(o), Some(nulls)) = (have.as_object_mut(), value.as_object()) {
                for (k, v) in nulls {
                    if v.is_null() {
                        take(o, k);
                    }
                }
            }
            Some(have)
        }
        (None, _) => Some(coerce(attr, value)?),
        (Some(sub), _) => {
            let mut have = current;
            let set = |obj: &mut Value| -> Result<(), ScimError> {
                let Some(o) = obj.as_object_mut() else { return Ok(()) };
                let old = take(o, sub.name);
                if op != Op::Remove {
                    let v = coerce(sub, value)?;
                    if sub.mutability == Mutability::Immutable && old.as_ref().is_some_and(|old| old != &v) {
                        return Err(ScimError::mutability(format!("{} is immutable", sub.name)));
                    }
                    o.insert(sub.name.to_owned(), v);
                }
                Ok(())
            };
            match &mut have {
                Some(Value::Array(a)) if !a.is_empty() => {
                    for v in a.iter_mut() {
                        set(v)?;
                    }
                    a.retain(|v| v.as_object().is_none_or(|o| !o.is_empty()));
                }
                Some(v @ Value::Object(_)) => {
                    set(v)?;
                }
                _ if op != Op::Remove => {
                    let mut fresh = Value::Object(Map::new());
                    set(&mut fresh)?;
                    have = Some(if attr.multi_valued { Value::Array(vec![fresh]) } else { fresh });
                }
                _ => {}
            }
            have
        }
    };
    if let Some(v) = new.filter(|v| !is_empty(v)) {
        c.insert(attr.name.to_owned(), v);
    }
    Ok(())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Copies `from`'s members into `into` (both objects).
fn merge(into: &mut Value, from: &Value) {
    if let (Some(i), Some(f)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in f {
            take(i, k);
            i.insert(k.clone(), v.clone());
        }
    }
}

fn apply_filtered(
    res: &mut Map<String, Value>,
    ext: Option<&'static str>,
    attr: &'static Attr,
    filter: &Filter,
    sub: Option<&'static Attr>,
    op: Op,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(c) = container(res, ext, op != Op::Remove) else { return Ok(()) };
    let mut have = match take(c, attr.name) {
        Some(Value::Array(a)) => a,
        Some(v) if !v.is_null() => vec![v],
        _ => Vec::new(),
    };
    let hits: Vec<usize> =
        have.iter().enumerate().filter(|(_, v)| filter.matches_value(attr, v)).map(|(i, _)| i).collect();
    let null = Value::Null;
    let value = value.unwrap_or(&null);
    let outcome = (|| -> Result<(), ScimError> {
        if op == Op::Remove {
            match sub {
                None => {
                    let mut i = 0;
                    have.retain(|_| {
                        i += 1;
                        !hits.contains(&(i - 1))
                    });
                }
                Some(s) => {
                    for &i in &hits {
                        if let Some(o) = have[i].as_object_mut() {
                            take(o, s.name);
                        }
                    }
                    have.retain(|v| v.as_object().is_none_or(|o| !o.is_empty()));
                }
            }
            return Ok(());
        }
        let mut hits = hits.clone();
        if hits.is_empty() {
            // Only a filter of equalities says what a new value would be.
            let eqs = filter
                .equalities()
                .ok_or_else(|| ScimError::no_target(format!("the value filter on {} selects nothing", attr.name)))?;
            let mut fresh = Map::new();
            for (k, v) in eqs {
                let s = attr.sub_attr(k).ok_or_else(|| ScimError::invalid_path(format!("no sub-attribute {k}")))?;
                fresh.insert(s.name.to_owned(), coerce(s, &v)?);
            }
            have.push(Value::Object(fresh));
            hits.push(have.len() - 1);
        }
        for &i in &hits {
            match sub {
                Some(s) => {
                    let v = coerce(s, value)?;
                    if let Some(o) = have[i].as_object_mut() {
                        let old = take(o, s.name);
                        if s.mutability == Mutability::Immutable && old.as_ref().is_some_and(|old| old != &v) {
                            return Err(ScimError::mutability(format!("{} is immutable", s.name)));
                        }
                        o.insert(s.name.to_owned(), v);
                    }
                }
                None => {
                    let v = coerce(attr, value)?;
                    if op == Op::Replace {
                        have[i] = v;
                    } else {
                        merge(&mut have[i], &v);
                    }
                }
            }
        }
        Ok(())
    })();
    if !have.is_empty() {
        c.insert(attr.name.to_owned(), Value::Array(have));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::{ENTERPRISE_SCHEMA, ScimType, USER_SCHEMA};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "0A1B2C3D4E5F6",
            "externalId": "e-1",
            "userName": "alice@example.com",
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "displayName": "Alice Smith",
            "active": true,
            "emails": [{"value": "alice@example.com", "type": "work", "primary": true}],
            "groups": [{"value": "G1", "display": "Staff"}],
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [crate::scim::GROUP_SCHEMA],
            "id": "G1",
            "displayName": "Staff",
            "members": [{"value": "U1"}, {"value": "U2"}, {"value": "U3"}]
        })
    }

    fn ops(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn patch(kind: ResourceKind, mut res: Value, body: Value) -> Result<Value, ScimError> {
        let p = PatchRequest::parse(kind, &body)?;
        p.apply(kind, &mut res)?;
        Ok(res)
    }

    fn pu(body: Value) -> Value {
        patch(ResourceKind::User, user(), ops(body)).unwrap()
    }

    fn pu_err(body: Value) -> ScimError {
        patch(ResourceKind::User, user(), ops(body)).unwrap_err()
    }

    #[test]
    fn replace_simple_attribute_with_path_and_any_op_case() {
        for op in ["replace", "Replace", "REPLACE"] {
            let r = pu(json!([{"op": op, "path": "userName", "value": "bob@example.com"}]));
            assert_eq!(r["userName"], "bob@example.com");
        }
        let r = pu(json!([{"op": "Add", "path": "externalId", "value": "e-2"}]));
        assert_eq!(r["externalId"], "e-2");
        let r = pu(json!([{"op": "replace", "path": "USERNAME", "value": "c@x"}]));
        assert_eq!(r["userName"], "c@x");
        assert_eq!(r.as_object().unwrap().keys().filter(|k| k.eq_ignore_ascii_case("username")).count(), 1);
    }

    #[test]
    fn active_as_a_string_entra() {
        let r = pu(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        assert_eq!(r["active"], false);
        let r = pu(json!([{"op": "Replace", "path": "active", "value": "True"}]));
        assert_eq!(r["active"], true);
        let e = pu_err(json!([{"op": "Replace", "path": "active", "value": "nope"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "Replace", "path": "active", "value": 0}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn replace_without_path_okta_and_entra_forms() {
        // Okta
        let r = pu(json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(r["active"], false);
        // Entra: dotted keys, URN keys, string booleans
        let r = pu(json!([{"op": "Replace", "value": {
            "name.givenName": "Alicia",
            "active": "False",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
            "displayName": "ignored, derived"
        }}]));
        assert_eq!(r["name"], json!({"givenName": "Alicia", "familyName": "Smith"}));
        assert_eq!(r["active"], false);
        assert_eq!(r[ENTERPRISE_SCHEMA]["department"], "Ops");
        assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE_SCHEMA]));
        assert_eq!(r["displayName"], "Alice Smith", "derived: the write is dropped");
        // a whole extension object
        let r =
            pu(json!([{"op": "replace", "value": {ENTERPRISE_SCHEMA: {"employeeNumber": "7", "department": "U"}}}]));
        assert_eq!(r[ENTERPRISE_SCHEMA], json!({"employeeNumber": "7", "department": "U"}));
        // complex without path merges: familyName stays
        let r = pu(json!([{"op": "replace", "value": {"name": {"givenName": "A"}}}]));
        assert_eq!(r["name"], json!({"givenName": "A", "familyName": "Smith"}));
        // unknown attributes (an IdP's default mapping) are dropped
        let r = pu(json!([{"op": "replace", "value": {"title": "Boss", "preferredLanguage": "en"}}]));
        assert_eq!(r, user());
        // schemas and the unchanged id are not a change
        let r =
            pu(json!([{"op": "replace", "value": {"schemas": [USER_SCHEMA], "id": "0A1B2C3D4E5F6", "active": false}}]));
        assert_eq!(r["active"], false);
        // a null member removes it
        let r = pu(json!([{"op": "replace", "value": {"externalId": null}}]));
        assert!(r.get("externalId").is_none());
    }

    #[test]
    fn enterprise_urn_paths() {
        let urn = format!("{ENTERPRISE_SCHEMA}:employeeNumber");
        let r = pu(json!([{"op": "add", "path": urn, "value": "701984"}]));
        assert_eq!(r[ENTERPRISE_SCHEMA]["employeeNumber"], "701984");
        assert!(r["schemas"].as_array().unwrap().contains(&json!(ENTERPRISE_SCHEMA)));
        // a number for a string attribute
        let r = pu(json!([{"op": "add", "path": urn, "value": 701984}]));
        assert_eq!(r[ENTERPRISE_SCHEMA]["employeeNumber"], "701984");
        // removing the last extension attribute removes the extension
        let with = r;
        let r = patch(ResourceKind::User, with.clone(), ops(json!([{"op": "remove", "path": urn}]))).unwrap();
        assert!(r.get(ENTERPRISE_SCHEMA).is_none());
        assert_eq!(r["schemas"], json!([USER_SCHEMA]));
        // the whole extension by its URN
        let r =
            patch(ResourceKind::User, with.clone(), ops(json!([{"op": "remove", "path": ENTERPRISE_SCHEMA}]))).unwrap();
        assert!(r.get(ENTERPRISE_SCHEMA).is_none());
        assert_eq!(r["schemas"], json!([USER_SCHEMA]));
        let r = pu(json!([{"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"department": "D", "colour": "x"}}]));
        assert_eq!(r[ENTERPRISE_SCHEMA], json!({"department": "D"}));
        // a core-URN-prefixed path
        let r = pu(json!([{"op": "replace", "path": format!("{USER_SCHEMA}:name.familyName"), "value": "Jones"}]));
        assert_eq!(r["name"]["familyName"], "Jones");
    }

    #[test]
    fn value_path_filters() {
        let r = pu(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]));
        assert_eq!(r["emails"], json!([{"value": "new@example.com", "type": "work", "primary": true}]));
        // Entra: the filter selects nothing yet, made only of equalities: a new value
        let r = pu(json!([{"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555"}]));
        assert_eq!(r["phoneNumbers"], json!([{"type": "work", "value": "+1 555"}]));
        let r = pu(json!([{"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555"}]));
        assert_eq!(r["phoneNumbers"], json!([{"type": "work", "value": "+1 555"}]));
        // any other filter that selects nothing
        let e = pu_err(json!([{"op": "replace", "path": "emails[type co \"hom\"].value", "value": "x@y"}]));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        // remove through a filter
        let r = pu(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
        assert!(r.get("emails").is_none());
        let r = pu(json!([{"op": "remove", "path": "emails[type eq \"work\"].type"}]));
        assert_eq!(r["emails"], json!([{"value": "alice@example.com", "primary": true}]));
        let e = pu_err(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "primary is not published");
        // replace a whole selected value
        let r = pu(
            json!([{"op": "replace", "path": "emails[value eq \"ALICE@example.com\"]", "value": {"value": "z@z", "type": "work"}}]),
        );
        assert_eq!(r["emails"], json!([{"value": "z@z", "type": "work"}]));
    }

    #[test]
    fn multi_valued_add_appends_without_duplicates() {
        // `primary` is not published: dropped from the new value
        let r =
            pu(json!([{"op": "add", "path": "emails", "value": [{"value": "b@x", "type": "work", "primary": true}]}]));
        assert_eq!(
            r["emails"],
            json!([{"value": "alice@example.com", "type": "work", "primary": true}, {"value": "b@x", "type": "work"}])
        );
        let r = pu(json!([{"op": "add", "path": "emails", "value": {"value": "alice@example.com", "type": "work"}}]));
        assert_eq!(r["emails"].as_array().unwrap().len(), 1);
        let r = pu(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}]));
        assert_eq!(r["emails"], json!([{"value": "only@x"}]));
        let e = pu_err(json!([{"op": "add", "path": "emails", "value": ["not-an-object"]}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn group_members_add_remove_replace() {
        let g = ResourceKind::Group;
        let r = patch(
            g,
            group(),
            ops(json!([{"op": "Add", "path": "members", "value": [{"value": "U4"}, {"value": "U1"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "U1"}, {"value": "U2"}, {"value": "U3"}, {"value": "U4"}]));
        let r = patch(g, group(), ops(json!([{"op": "remove", "path": "members[value eq \"U2\"]"}]))).unwrap();
        assert_eq!(r["members"], json!([{"value": "U1"}, {"value": "U3"}]));
        // removing someone who is not a member: nothing to do, no error
        let r = patch(g, group(), ops(json!([{"op": "remove", "path": "members[value eq \"U9\"]"}]))).unwrap();
        assert_eq!(r, group());
        // Entra: remove with a value list
        let r = patch(
            g,
            group(),
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "U1"}, {"value": "U3"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "U2"}]));
        // remove all
        let r = patch(g, group(), ops(json!([{"op": "remove", "path": "members"}]))).unwrap();
        assert!(r.get("members").is_none());
        // Okta: replace the list
        let r =
            patch(g, group(), ops(json!([{"op": "replace", "path": "members", "value": [{"value": "U7"}]}]))).unwrap();
        assert_eq!(r["members"], json!([{"value": "U7"}]));
        let r =
            patch(g, group(), ops(json!([{"op": "replace", "value": {"displayName": "Staff 2", "externalId": "x"}}])))
                .unwrap();
        assert_eq!((r["displayName"].as_str(), r["externalId"].as_str()), (Some("Staff 2"), Some("x")));
        // a member's value is immutable
        let e =
            patch(g, group(), ops(json!([{"op": "replace", "path": "members[value eq \"U1\"].value", "value": "U8"}])))
                .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
    }

    #[test]
    fn mutability_errors() {
        let e = pu_err(json!([{"op": "replace", "path": "id", "value": "OTHER"}]));
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = pu_err(json!([{"op": "replace", "value": {"id": "OTHER"}}]));
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = pu_err(json!([{"op": "remove", "path": "id"}]));
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = pu_err(json!([{"op": "add", "path": "groups", "value": [{"value": "G2"}]}]));
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        let e = pu_err(json!([{"op": "replace", "path": "meta.version", "value": "W/\"2\""}]));
        assert_eq!(e.scim_type, Some(ScimType::Mutability));
        // derived: dropped, not refused
        let r = pu(json!([{"op": "replace", "path": "displayName", "value": "X"}]));
        assert_eq!(r["displayName"], "Alice Smith");
    }

    #[test]
    fn path_and_value_errors() {
        let e = pu_err(json!([{"op": "remove"}]));
        assert_eq!(e.scim_type, Some(ScimType::NoTarget));
        for bad in [
            "emails[type eq \"work\"",
            "emails[type eq]",
            "emails[type eq \"w\"]x",
            "name[givenName eq \"a\"]",
            "userName.sub",
            "a.b.c",
            "urn:example:nope:attr",
            "emails[colour eq \"x\"]",
        ] {
            let e = pu_err(json!([{"op": "replace", "path": bad, "value": "x"}]));
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
        }
        let e = pu_err(json!([{"op": "remove", "path": "userName"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "remove", "path": "active"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "remove", "path": "name.givenName"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "add", "path": "userName"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "replace", "path": "userName", "value": {"a": 1}}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "replace", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = pu_err(json!([{"op": "move", "path": "userName", "value": "x"}]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = patch(
            ResourceKind::User,
            user(),
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "externalId", "value": "y"}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = patch(ResourceKind::User, user(), json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        // unknown attribute with a path: dropped
        assert_eq!(pu(json!([{"op": "replace", "path": "title", "value": "x"}])), user());
        assert_eq!(pu(json!([{"op": "add", "path": "addresses[type eq \"work\"].formatted", "value": "x"}])), user());
    }

    #[test]
    fn all_or_nothing_and_error_names_the_operation() {
        let mut res = user();
        let p = PatchRequest::parse(
            ResourceKind::User,
            &ops(json!([{"op": "replace", "path": "userName", "value": "z"}, {"op": "replace", "path": "id", "value": "Q"}])),
        )
        .unwrap();
        let e = p.apply(ResourceKind::User, &mut res).unwrap_err();
        assert!(e.detail.starts_with("operation 2:"), "{}", e.detail);
        assert_eq!(res, user(), "first operation not applied either");
    }

    #[test]
    fn sub_attribute_of_single_complex_and_replace_null() {
        let r = pu(json!([{"op": "replace", "path": "name.familyName", "value": "Jones"}]));
        assert_eq!(r["name"], json!({"givenName": "Alice", "familyName": "Jones"}));
        let r = pu(json!([{"op": "replace", "path": "externalId", "value": null}]));
        assert!(r.get("externalId").is_none());
        let r = pu(json!([{"op": "replace", "path": "emails.value", "value": "all@x"}]));
        assert_eq!(r["emails"][0]["value"], "all@x");
    }

    #[test]
    fn debug_prints_no_values() {
        let p = PatchRequest::parse(
            ResourceKind::User,
            &ops(json!([{"op": "replace", "path": "userName", "value": "alice@secret"}])),
        )
        .unwrap();
        assert!(!format!("{p:?}").contains("alice"));
    }

    proptest::proptest! {
        #[test]
        fn path_parser_never_panics(s in "\\PC{0,120}") {
            let _ = parse_path(ResourceKind::User, &s);
            let _ = parse_path(ResourceKind::Group, &s);
        }
    }
}
