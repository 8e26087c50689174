//! The SCIM filter language (RFC 7644 §3.4.2.2) parsed to an AST and
//! evaluated against a resource's JSON.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ```
//!
//! Rules:
//! - operators, `and`/`or`/`not`, literals and attribute names are
//!   case-insensitive; `not` binds tighter than `and`, `and` than `or`;
//! - a string comparison ignores case unless the attribute is `caseExact`
//!   in [`super::schema`] (`id`, `externalId`, `meta.version`, `$ref`);
//!   `dateTime` attributes compare as RFC 3339 instants, numbers as numbers;
//! - a multi-valued attribute matches when any of its values does; a
//!   complex value compared without a sub-attribute is compared through
//!   its `value` sub-attribute (`emails co "@example.com"`);
//! - `ne` is the negation of `eq` (an absent attribute is `ne` anything),
//!   `eq null` matches an absent or null attribute;
//! - the input is bounded: at most [`MAX_LEN`] bytes and [`MAX_DEPTH`]
//!   levels of parentheses, `not` and value paths, so a hostile filter
//!   cannot exhaust the stack; `and`/`or` chains are flat (n-ary), so their
//!   length costs no depth.
//!
//! Parse errors are `invalidFilter` with a byte position, never the text.

use serde_json::{Number, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ScimError;
use super::schema::{self, Attr, AttrType, ResourceKind};

/// Longest filter accepted, in bytes.
pub const MAX_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

/// An attribute path: an optional schema URN, an attribute, an optional
/// sub-attribute (`name.familyName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN as written, without the `:` before the attribute.
    pub urn: Option<String>,
    /// The attribute's name as written.
    pub name: String,
    /// The sub-attribute's name as written.
    pub sub: Option<String>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        Some('$') => s.eq_ignore_ascii_case("$ref"),
        _ => false,
    }
}

impl AttrPath {
    /// Parses `[URN ":"] name ["." sub]`; `invalidPath`-free: the caller
    /// picks the error keyword, this returns `None` when malformed.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let (urn, rest) = match s.rfind(':') {
            Some(i) => {
                let urn = &s[..i];
                if !urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
                    || !urn.chars().all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c))
                {
                    return None;
                }
                (Some(urn.to_owned()), &s[i + 1..])
            }
            None => (None, s),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, sub)) => (n, Some(sub)),
            None => (rest, None),
        };
        if !is_name(name) || sub.is_some_and(|s| !is_name(s)) {
            return None;
        }
        Some(Self { urn, name: name.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// A path to `name` with no URN and no sub-attribute.
    #[must_use]
    pub fn simple(name: &str) -> Self {
        Self { urn: None, name: name.to_owned(), sub: None }
    }

    /// Whether this path names `name` (case-insensitive) with no
    /// sub-attribute, bare or under `kind`'s core schema URN.
    #[must_use]
    pub fn is_core(&self, kind: ResourceKind, name: &str) -> bool {
        self.sub.is_none()
            && self.name.eq_ignore_ascii_case(name)
            && self.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(kind.core_schema()))
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

/// A literal on the right of a comparison.
#[derive(Clone, PartialEq)]
pub enum CompValue {
    /// A JSON string.
    Str(String),
    /// A JSON number.
    Num(Number),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

// A literal is often a person's name or address: Debug never prints it.
impl std::fmt::Debug for CompValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Str(s) => write!(f, "Str(<{} chars>)", s.chars().count()),
            Self::Num(_) => f.write_str("Num(..)"),
            Self::Bool(b) => write!(f, "Bool({b})"),
            Self::Null => f.write_str("Null"),
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every operand matches (two or more).
    And(Vec<Filter>),
    /// Some operand matches (two or more).
    Or(Vec<Filter>),
    /// The operand does not match.
    Not(Box<Filter>),
    /// `attrPath op value`.
    Compare {
        /// The attribute.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: CompValue,
    },
    /// `attrPath pr`.
    Present(AttrPath),
    /// `attrPath[valFilter]`: some value of the (complex) attribute matches
    /// the inner filter, whose paths name its sub-attributes.
    ValuePath {
        /// The complex attribute.
        path: AttrPath,
        /// The filter on each of its values.
        filter: Box<Filter>,
    },
}

/// The attributes a provisioning client looks people and groups up by,
/// answered from an index rather than a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimpleAttr {
    /// `userName`
    UserName,
    /// `externalId`
    ExternalId,
    /// `id`
    Id,
    /// `displayName`
    DisplayName,
}

// ---- tokens ---------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
    Num(Number),
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b":._-$".contains(&c)
}

fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>, ScimError> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' | b')' | b'[' | b']' => {
                out.push((
                    start,
                    match c {
                        b'(' => Tok::LParen,
                        b')' => Tok::RParen,
                        b'[' => Tok::LBracket,
                        _ => Tok::RBracket,
                    },
                ));
                i += 1;
            }
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(ScimError::invalid_filter(format!("unterminated string at {start}"))),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let s: String = input
                    .get(start..i)
                    .and_then(|lit| serde_json::from_str(lit).ok())
                    .ok_or_else(|| ScimError::invalid_filter(format!("malformed string at {start}")))?;
                out.push((start, Tok::Str(s)));
            }
            b'-' | b'0'..=b'9' => {
                while i < b.len() && (b[i].is_ascii_digit() || b"+-.eE".contains(&b[i])) {
                    i += 1;
                }
                let n: Number = serde_json::from_str(&input[start..i])
                    .map_err(|_| ScimError::invalid_filter(format!("malformed number at {start}")))?;
                out.push((start, Tok::Num(n)));
            }
            c if is_word_char(c) => {
                while i < b.len() && is_word_char(b[i]) {
                    i += 1;
                }
                out.push((start, Tok::Word(input[start..i].to_owned())));
            }
            _ => return Err(ScimError::invalid_filter(format!("unexpected character at {start}"))),
        }
    }
    Ok(out)
}

// ---- parser ---------------------------------------------------------------

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(p, _)| *p)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }

    fn err(&self, what: &str) -> ScimError {
        ScimError::invalid_filter(format!("{what} at {}", self.at()))
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(format!("nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn or(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        let mut terms = vec![self.and(in_value_path)?];
        while self.peek_keyword("or") {
            self.pos += 1;
            terms.push(self.and(in_value_path)?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Filter::Or(terms) })
    }

    fn and(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        let mut terms = vec![self.unary(in_value_path)?];
        while self.peek_keyword("and") {
            self.pos += 1;
            terms.push(self.unary(in_value_path)?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Filter::And(terms) })
    }

    fn close(&mut self, tok: &Tok, what: &str) -> Result<(), ScimError> {
        if self.peek() == Some(tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn unary(&mut self, in_value_path: bool) -> Result<Filter, ScimError> {
        if self.peek_keyword("not") && matches!(self.toks.get(self.pos + 1), Some((_, Tok::LParen))) {
            self.pos += 2;
            self.enter()?;
            let inner = self.or(in_value_path)?;
            self.close(&Tok::RParen, "expected ')'")?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Tok::LParen) => {
                self.enter()?;
                let inner = self.or(in_value_path)?;
                self.close(&Tok::RParen, "expected ')'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(Tok::Word(w)) => {
                self.pos -= 1;
                let path = AttrPath::parse(&w).ok_or_else(|| self.err("malformed attribute path"))?;
                self.pos += 1;
                if self.peek() == Some(&Tok::LBracket) {
                    if in_value_path || path.sub.is_some() {
                        return Err(self.err("value filter not allowed here"));
                    }
                    self.pos += 1;
                    self.enter()?;
                    let inner = self.or(true)?;
                    self.close(&Tok::RBracket, "expected ']'")?;
                    self.depth -= 1;
                    return Ok(Filter::ValuePath { path, filter: Box::new(inner) });
                }
                self.attr_exp(path)
            }
            None => Err(self.err("unexpected end")),
            Some(_) => {
                self.pos -= 1;
                Err(self.err("expected an attribute path"))
            }
        }
    }

    fn attr_exp(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let Some(Tok::Word(op)) = self.peek().cloned() else {
            return Err(self.err("expected an operator"));
        };
        if op.eq_ignore_ascii_case("pr") {
            self.pos += 1;
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(&op).ok_or_else(|| self.err("unknown operator"))?;
        self.pos += 1;
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::Str(s),
            Some(Tok::Num(n)) => CompValue::Num(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                self.pos -= 1;
                return Err(self.err("expected a string, number, true, false or null"));
            }
        };
        match (&value, op) {
            (CompValue::Bool(_) | CompValue::Null, o) if o.is_ordering() => {
                return Err(self.err("gt, ge, lt and le take a string or a number"));
            }
            (
                CompValue::Bool(_) | CompValue::Null | CompValue::Num(_),
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew,
            ) => {
                return Err(self.err("co, sw and ew take a string"));
            }
            _ => {}
        }
        Ok(Filter::Compare { path, op, value })
    }
}

impl Filter {
    /// Parses a filter; `invalidFilter` when malformed or over the bounds.
    pub fn parse(input: &str) -> Result<Self, ScimError> {
        if input.len() > MAX_LEN {
            return Err(ScimError::invalid_filter(format!("longer than {MAX_LEN} bytes")));
        }
        let toks = tokenize(input)?;
        let mut p = Parser { toks, pos: 0, end: input.len(), depth: 0 };
        let f = p.or(false)?;
        if p.pos != p.toks.len() {
            return Err(p.err("unexpected token"));
        }
        Ok(f)
    }

    /// Parses, then checks every path against `kind`'s schemas: an unknown
    /// attribute, a value filter on a simple attribute, or `gt`/`ge`/`lt`/`le`
    /// on a boolean or complex attribute is `invalidFilter`.
    pub fn parse_for(kind: ResourceKind, input: &str) -> Result<Self, ScimError> {
        let f = Self::parse(input)?;
        f.check(kind, None)?;
        Ok(f)
    }

    pub(crate) fn check(&self, kind: ResourceKind, parent: Option<&'static Attr>) -> Result<(), ScimError> {
        let resolve = |path: &AttrPath| -> Result<&'static Attr, ScimError> {
            let found = match parent {
                Some(p) if path.urn.is_none() && path.sub.is_none() => p.sub_attr(&path.name),
                Some(_) => None,
                None => schema::resolve(kind, path).map(|r| r.leaf()),
            };
            found.ok_or_else(|| ScimError::invalid_filter(format!("unknown attribute {path}")))
        };
        match self {
            Self::And(fs) | Self::Or(fs) => fs.iter().try_for_each(|f| f.check(kind, parent)),
            Self::Not(f) => f.check(kind, parent),
            Self::Present(path) => resolve(path).map(|_| ()),
            Self::Compare { path, op, .. } => {
                let attr = resolve(path)?;
                if op.is_ordering() && matches!(attr.ty, AttrType::Boolean | AttrType::Binary) {
                    return Err(ScimError::invalid_filter(format!("{path} cannot be ordered")));
                }
                Ok(())
            }
            Self::ValuePath { path, filter } => {
                let attr = resolve(path)?;
                if attr.ty != AttrType::Complex {
                    return Err(ScimError::invalid_filter(format!("{path} has no sub-attributes")));
                }
                filter.check(kind, Some(attr))
            }
        }
    }

    /// Whether `resource` (a User's or Group's JSON) matches.
    #[must_use]
    pub fn matches(&self, kind: ResourceKind, resource: &Value) -> bool {
        self.eval(&Scope::Resource(kind), resource)
    }

    fn eval(&self, scope: &Scope, v: &Value) -> bool {
        match self {
            Self::And(fs) => fs.iter().all(|f| f.eval(scope, v)),
            Self::Or(fs) => fs.iter().any(|f| f.eval(scope, v)),
            Self::Not(f) => !f.eval(scope, v),
            Self::Present(path) => {
                let (vals, _) = scope.values(v, path);
                vals.iter().any(|x| is_present(x))
            }
            Self::Compare { path, op, value } => {
                let (vals, attr) = scope.values(v, path);
                let eq_any = |vals: &[&Value]| vals.iter().any(|x| compare(x, CompareOp::Eq, value, attr));
                match (op, value) {
                    (CompareOp::Eq, CompValue::Null) => !vals.iter().any(|x| is_present(x)),
                    (CompareOp::Ne, CompValue::Null) => vals.iter().any(|x| is_present(x)),
                    (CompareOp::Ne, _) => !eq_any(&vals),
                    _ => vals.iter().any(|x| compare(x, *op, value, attr)),
                }
            }
            Self::ValuePath { path, filter } => {
                let (vals, attr) = scope.raw(v, path);
                let inner = Scope::Complex(attr);
                vals.iter().any(|x| filter.eval(&inner, x))
            }
        }
    }

    /// Whether one value of the complex attribute `attr` matches (the
    /// filter inside `attr[...]`).
    #[must_use]
    pub fn matches_value(&self, attr: &'static Attr, value: &Value) -> bool {
        self.eval(&Scope::Complex(Some(attr)), value)
    }

    /// The `sub eq literal` terms of a filter made only of them joined by
    /// `and` (`type eq "work"`), or None: what a new value selected by the
    /// filter must hold.
    #[must_use]
    pub fn equalities(&self) -> Option<Vec<(&str, Value)>> {
        fn one(f: &Filter) -> Option<(&str, Value)> {
            let Filter::Compare { path, op: CompareOp::Eq, value } = f else { return None };
            if path.urn.is_some() || path.sub.is_some() {
                return None;
            }
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Num(n) => Value::Number(n.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Null => return None,
            };
            Some((path.name.as_str(), v))
        }
        match self {
            Filter::And(fs) => fs.iter().map(one).collect(),
            f => one(f).map(|t| vec![t]),
        }
    }

    /// `userName eq "…"`, `externalId eq "…"`, `id eq "…"` or
    /// `displayName eq "…"` (any case, bare or under the core schema URN):
    /// the attribute and the value, so the caller can use an index.
    #[must_use]
    pub fn simple_eq(&self, kind: ResourceKind) -> Option<(SimpleAttr, &str)> {
        let Self::Compare { path, op: CompareOp::Eq, value: CompValue::Str(s) } = self else {
            return None;
        };
        let attr = [
            ("userName", SimpleAttr::UserName),
            ("externalId", SimpleAttr::ExternalId),
            ("id", SimpleAttr::Id),
            ("displayName", SimpleAttr::DisplayName),
        ]
        .into_iter()
        .find(|(n, _)| path.is_core(kind, n))?
        .1;
        if attr == SimpleAttr::UserName && kind != ResourceKind::User {
            return None;
        }
        Some((attr, s.as_str()))
    }
}

/// Where paths are resolved: a resource's top level, or one value of a
/// complex attribute (inside `[...]`).
enum Scope {
    Resource(ResourceKind),
    Complex(Option<&'static Attr>),
}

/// Member of an object by name, ignoring case.
pub(crate) fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn flatten(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

impl Scope {
    /// The attribute's values (arrays flattened), and its definition.
    fn raw<'a>(&self, v: &'a Value, path: &AttrPath) -> (Vec<&'a Value>, Option<&'static Attr>) {
        match self {
            Self::Complex(parent) => {
                let attr = parent.and_then(|p| p.sub_attr(&path.name));
                let vals = get_ci(v, &path.name).map(flatten).unwrap_or_default();
                (vals, attr)
            }
            Self::Resource(kind) => {
                let resolved = schema::resolve(*kind, path);
                let container = match resolved.as_ref().and_then(|r| r.extension) {
                    Some(urn) => get_ci(v, urn),
                    None if path.urn.is_some() && resolved.is_none() => path.urn.as_deref().and_then(|u| get_ci(v, u)),
                    None => Some(v),
                };
                let top: Vec<&Value> = container.and_then(|c| get_ci(c, &path.name)).map(flatten).unwrap_or_default();
                match &path.sub {
                    None => (top, resolved.map(|r| r.attr)),
                    Some(sub) => {
                        let vals = top.into_iter().filter_map(|x| get_ci(x, sub)).flat_map(flatten).collect();
                        (vals, resolved.and_then(|r| r.sub))
                    }
                }
            }
        }
    }

    /// As [`Self::raw`], with a complex value standing for its `value`.
    fn values<'a>(&self, v: &'a Value, path: &AttrPath) -> (Vec<&'a Value>, Option<&'static Attr>) {
        let (vals, attr) = self.raw(v, path);
        if vals.iter().any(|x| x.is_object()) {
            let value_attr = attr.and_then(|a| a.sub_attr("value"));
            let vals =
                vals.into_iter().filter_map(|x| if x.is_object() { get_ci(x, "value") } else { Some(x) }).collect();
            return (vals, value_attr.or(attr));
        }
        (vals, attr)
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn ordering_holds(op: CompareOp, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        CompareOp::Eq => ord == Equal,
        CompareOp::Ne => ord != Equal,
        CompareOp::Gt => ord == Greater,
        CompareOp::Ge => ord != Less,
        CompareOp::Lt => ord == Less,
        CompareOp::Le => ord != Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare(actual: &Value, op: CompareOp, lit: &CompValue, attr: Option<&'static Attr>) -> bool {
    match (actual, lit) {
        (Value::String(a), CompValue::Str(b)) => {
            if attr.is_some_and(|a| a.ty == AttrType::DateTime)
                && let (Ok(x), Ok(y)) = (OffsetDateTime::parse(a, &Rfc3339), OffsetDateTime::parse(b, &Rfc3339))
            {
                return ordering_holds(op, x.cmp(&y));
            }
            let exact = attr.is_some_and(|a| a.case_exact);
            let (a, b) = if exact { (a.clone(), b.clone()) } else { (a.to_lowercase(), b.to_lowercase()) };
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordering_holds(op, a.cmp(&b)),
            }
        }
        (Value::Number(a), CompValue::Num(b)) => {
            let ord = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a.as_f64().zip(b.as_f64()).and_then(|(x, y)| x.partial_cmp(&y)),
            };
            ord.is_some_and(|o| ordering_holds(op, o))
        }
        (Value::Bool(a), CompValue::Bool(b)) => op == CompareOp::Eq && a == b,
        // Some clients quote booleans (`active eq "true"`).
        (Value::Bool(a), CompValue::Str(b)) => {
            op == CompareOp::Eq && b.eq_ignore_ascii_case(if *a { "true" } else { "false" })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "0A1B2C3D4E5F6",
            "externalId": "ExtID-42",
            "userName": "Alice.Smith@Example.com",
            "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
            "displayName": "Alice Smith",
            "active": true,
            "emails": [{"value": "alice@example.com", "type": "work", "primary": true},
                       {"value": "a.smith@home.test", "type": "home"}],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
            "title": "",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984", "department": "Tour Operations", "organization": "Universal"
            },
            "meta": {"resourceType": "User", "created": "2024-01-23T04:56:22Z",
                     "lastModified": "2024-05-13T04:42:34+02:00", "version": "W/\"a330bc54f0671c9\""},
            "count": 7
        })
    }

    fn m(f: &str) -> bool {
        Filter::parse(f).unwrap_or_else(|e| panic!("{f}: {e}")).matches(ResourceKind::User, &user())
    }

    fn perr(f: &str) -> ScimError {
        Filter::parse(f).expect_err(f)
    }

    #[test]
    fn eq_is_case_insensitive_on_user_name_and_exact_on_id_and_external_id() {
        assert!(m(r#"userName eq "alice.smith@example.com""#));
        assert!(m(r#"USERNAME EQ "ALICE.SMITH@EXAMPLE.COM""#));
        assert!(m(r#"externalId eq "ExtID-42""#));
        assert!(!m(r#"externalId eq "extid-42""#));
        assert!(m(r#"id eq "0A1B2C3D4E5F6""#));
        assert!(!m(r#"id eq "0a1b2c3d4e5f6""#));
        assert!(!m(r#"userName eq "bob""#));
    }

    #[test]
    fn ne_is_the_negation_of_eq() {
        assert!(m(r#"userName ne "bob""#));
        assert!(!m(r#"userName ne "ALICE.SMITH@example.com""#));
        // absent attribute: not equal to anything
        assert!(m(r#"nickName ne "x""#));
        // multi-valued: ne holds only when no value equals
        assert!(!m(r#"emails.type ne "home""#));
        assert!(m(r#"emails.type ne "other""#));
    }

    #[test]
    fn co_sw_ew() {
        assert!(m(r#"userName co "SMITH@""#));
        assert!(!m(r#"userName co "jones""#));
        assert!(m(r#"userName sw "alice.""#));
        assert!(!m(r#"userName sw "smith""#));
        assert!(m(r#"userName ew ".COM""#));
        assert!(!m(r#"userName ew ".org""#));
        assert!(!m(r#"externalId co "extid""#), "caseExact co");
        assert!(m(r#"externalId co "tID-4""#));
    }

    #[test]
    fn pr_requires_a_non_empty_value() {
        assert!(m("userName pr"));
        assert!(m("emails pr"));
        assert!(m("name.givenName pr"));
        assert!(!m("title pr"), "empty string is not present");
        assert!(!m("nickName pr"));
        assert!(!m("name.middleName pr"));
    }

    #[test]
    fn ordering_on_strings_numbers_and_dates() {
        assert!(m(r#"userName gt "alice""#));
        assert!(!m(r#"userName lt "alice""#));
        assert!(m(r#"userName ge "ALICE.SMITH@EXAMPLE.COM""#));
        assert!(m(r#"userName le "alice.smith@example.com""#));
        assert!(m("count gt 6"));
        assert!(m("count ge 7"));
        assert!(!m("count gt 7"));
        assert!(m("count lt 7.5"));
        assert!(m("count le 7"));
        assert!(!m("count lt -1"));
        // instants, not strings: 04:42:34+02:00 is 02:42:34Z
        assert!(m(r#"meta.lastModified lt "2024-05-13T03:00:00Z""#));
        assert!(m(r#"meta.lastModified gt "2024-05-13T02:42:33Z""#));
        assert!(m(r#"meta.lastModified eq "2024-05-13T02:42:34Z""#));
        assert!(m(r#"meta.created ge "2024-01-23T04:56:22.000Z""#));
        assert!(!m(r#"meta.created gt "2024-01-23T04:56:22Z""#));
    }

    #[test]
    fn booleans_and_null() {
        assert!(m("active eq true"));
        assert!(!m("active eq false"));
        assert!(m("ACTIVE EQ TRUE"));
        assert!(m(r#"active eq "True""#), "quoted boolean");
        assert!(m("nickName eq null"));
        assert!(!m("userName eq null"));
        assert!(m("userName ne null"));
    }

    #[test]
    fn logic_and_precedence() {
        assert!(m(r#"userName sw "alice" and active eq true"#));
        assert!(!m(r#"userName sw "alice" and active eq false"#));
        assert!(m(r#"userName sw "bob" or active eq true"#));
        assert!(!m(r#"userName sw "bob" or active eq false"#));
        // and binds tighter than or: (false and false) or true
        assert!(m(r#"userName sw "bob" and active eq false or active eq true"#));
        // parentheses change it: false and (false or true)
        assert!(!m(r#"userName sw "bob" and (active eq false or active eq true)"#));
        assert!(m(r#"not (userName sw "bob")"#));
        assert!(m(r#"not(userName sw "bob")"#));
        assert!(!m(r#"NOT (userName sw "alice")"#));
        assert!(m(r#"not (not (userName sw "alice"))"#));
        let f = Filter::parse("a pr and b pr and c pr or d pr").unwrap();
        let Filter::Or(terms) = f else { panic!("not an or") };
        assert!(matches!(&terms[0], Filter::And(v) if v.len() == 3));
    }

    #[test]
    fn sub_attributes_and_urn_paths() {
        assert!(m(r#"name.familyName eq "smith""#));
        assert!(m(r#"NAME.FAMILYNAME eq "SMITH""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "alice""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "alice""#));
        assert!(m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#));
        assert!(m(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department co "tour""#));
        assert!(!m(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#));
        // a core path does not look into the extension
        assert!(!m(r#"urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber eq "701984""#));
        // a bare extension attribute is found in the extension (clients send it)
        assert!(m(r#"employeeNumber eq "701984""#));
    }

    #[test]
    fn multi_valued_match_when_any_value_matches() {
        assert!(m(r#"emails.value eq "a.smith@home.test""#));
        assert!(m(r#"emails.type eq "home""#));
        assert!(m(r#"emails co "@home.test""#), "complex compared through value");
        assert!(m(r#"emails eq "ALICE@example.com""#));
        assert!(!m(r#"emails co "nowhere""#));
    }

    #[test]
    fn value_path_filters_apply_to_one_value() {
        assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
        // the work address is not at home.test: the two conditions must hold on one value
        assert!(!m(r#"emails[type eq "work" and value co "@home.test"]"#));
        assert!(m(r#"emails[type eq "work"] and userName sw "alice""#));
        assert!(m(r#"emails[not (type eq "work")]"#));
        assert!(m(r#"emails[primary eq true]"#));
        assert!(!m(r#"phoneNumbers[type eq "home"]"#));
        assert!(m(r#"emails[type eq "x"] or phoneNumbers[type eq "work"]"#));
    }

    #[test]
    fn string_escapes_are_json() {
        let f = Filter::parse(r#"displayName eq "say \"hi\" \u00e9""#).unwrap();
        let Filter::Compare { value: CompValue::Str(s), .. } = f else { panic!("not a compare") };
        assert_eq!(s, "say \"hi\" é");
    }

    #[test]
    fn grammar_errors_are_invalid_filter_with_a_position() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "x""#,
            r#"userName eq "x" and"#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"]]"#,
            r#"userName eq "unterminated"#,
            r#"userName eq x"#,
            "userName gt true",
            "userName lt null",
            "userName co 5",
            "userName sw true",
            r#"emails[type eq "a"][value eq "b"]"#,
            r#"emails[phones[type eq "x"]]"#,
            r#"name.givenName.x eq "a""#,
            r#"9abc eq "a""#,
            r#"userName eq "a" # "b""#,
            r#"userName eq 1e"#,
            r#"foo:bar eq "a""#,
            "not userName pr",
        ] {
            let e = perr(bad);
            assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidFilter), "{bad}");
            assert_eq!(e.status.as_u16(), 400);
        }
        assert!(perr(r#"userName zz "x""#).detail.contains("at 9"), "{}", perr(r#"userName zz "x""#).detail);
    }

    #[test]
    fn error_detail_never_carries_the_value() {
        let e = perr(r#"userName eq "alice.secret@example.com" and"#);
        assert!(!e.detail.contains("alice"), "{}", e.detail);
        let e = perr(r#"userName eq "alice.secret@example.com" )"#);
        assert!(!e.detail.contains("alice"), "{}", e.detail);
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let deep = format!("{}userName pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(Filter::parse(&deep).is_ok());
        let deeper = format!("{}userName pr{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(perr(&deeper).detail.contains("nested deeper"));
        let nots = format!("{}userName pr{}", "not (".repeat(10_000), ")".repeat(10_000));
        assert_eq!(perr(&nots).scim_type, Some(crate::scim::ScimType::InvalidFilter));
        let long = format!("userName eq \"{}\"", "a".repeat(MAX_LEN));
        assert!(perr(&long).detail.contains("longer than"));
        // a long flat chain is fine and evaluates without recursion per term
        let chain = vec!["userName pr"; 500].join(" and ");
        assert!(m(&chain));
    }

    #[test]
    fn parse_for_checks_paths_against_the_schema() {
        assert!(Filter::parse_for(ResourceKind::User, r#"userName eq "a""#).is_ok());
        assert!(Filter::parse_for(ResourceKind::User, r#"emails[type eq "work"]"#).is_ok());
        assert!(Filter::parse_for(ResourceKind::User, "meta.lastModified gt \"2024-01-01T00:00:00Z\"").is_ok());
        assert!(Filter::parse_for(ResourceKind::Group, r#"members[value eq "X"]"#).is_ok());
        for (kind, bad) in [
            (ResourceKind::User, r#"shoeSize eq "a""#),
            (ResourceKind::User, "active gt 1"),
            (ResourceKind::User, r#"userName[value eq "a"]"#),
            (ResourceKind::User, r#"emails[colour eq "a"]"#),
            (ResourceKind::Group, r#"userName eq "a""#),
            (ResourceKind::User, r#"urn:example:other:foo eq "a""#),
        ] {
            let e = Filter::parse_for(kind, bad).expect_err(bad);
            assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidFilter), "{bad}");
        }
    }

    #[test]
    fn simple_eq_recognises_index_look_ups() {
        let u = ResourceKind::User;
        let f = Filter::parse(r#"userName eq "alice@example.com""#).unwrap();
        assert_eq!(f.simple_eq(u), Some((SimpleAttr::UserName, "alice@example.com")));
        let f = Filter::parse(r#"USERNAME Eq "x""#).unwrap();
        assert_eq!(f.simple_eq(u), Some((SimpleAttr::UserName, "x")));
        let f = Filter::parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "e""#).unwrap();
        assert_eq!(f.simple_eq(u), Some((SimpleAttr::ExternalId, "e")));
        let f = Filter::parse(r#"id eq "ABC""#).unwrap();
        assert_eq!(f.simple_eq(u), Some((SimpleAttr::Id, "ABC")));
        let f = Filter::parse(r#"displayName eq "Staff""#).unwrap();
        assert_eq!(f.simple_eq(ResourceKind::Group), Some((SimpleAttr::DisplayName, "Staff")));
        for not_simple in [
            r#"userName ne "x""#,
            r#"userName co "x""#,
            r#"name.givenName eq "x""#,
            r#"userName eq "x" and active eq true"#,
            "userName eq 5",
            r#"urn:ietf:params:scim:schemas:core:2.0:Group:userName eq "x""#,
            r#"emails[value eq "x"]"#,
        ] {
            assert_eq!(Filter::parse(not_simple).unwrap().simple_eq(u), None, "{not_simple}");
        }
        let f = Filter::parse(r#"userName eq "x""#).unwrap();
        assert_eq!(f.simple_eq(ResourceKind::Group), None);
    }

    #[test]
    fn debug_does_not_print_literals() {
        let f = Filter::parse(r#"userName eq "alice@example.com""#).unwrap();
        assert!(!format!("{f:?}").contains("alice"));
    }

    #[test]
    fn attr_path_parse() {
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
        assert_eq!(p.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(AttrPath::parse("members.$ref").unwrap().sub.as_deref(), Some("$ref"));
        assert!(AttrPath::parse("a.b.c").is_none());
        assert!(AttrPath::parse("").is_none());
        assert!(AttrPath::parse("x:y").is_none());
        assert!(AttrPath::parse("emails[").is_none());
        assert_eq!(p.to_string(), "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,200}") {
            let _ = Filter::parse(&s);
        }

        #[test]
        fn parser_never_panics_on_filter_like_input(
            s in proptest::collection::vec(
                proptest::sample::select(vec![
                    "(", ")", "[", "]", " ", "not", "and", "or", "eq", "pr", "gt", "\"x\"", "\"",
                    "\\", "1", "-", ".", "userName", "emails", "name.givenName", "true", "null",
                    "urn:ietf:params:scim:schemas:core:2.0:User:", "$ref",
                ]),
                0..60,
            )
        ) {
            let text: String = s.concat();
            if let Ok(f) = Filter::parse(&text) {
                let _ = f.matches(ResourceKind::User, &user());
                let _ = f.simple_eq(ResourceKind::User);
            }
        }
    }
}
