//! The organisation's LDAP directory or Active Directory, read-only (issue 17):
//! the `[directory]` configuration ([`LdapConfig`]), what one person's entry
//! becomes ([`DirEntry`]), the change marker of an incremental fetch
//! ([`Marker`]) and the client ([`ldap`]: connect, paged fetch, fetch one).
//!
//! This module only reads the directory and maps attributes; what an entry
//! does to a person (create, update, suspend, refuse) is the sync engine's
//! rule, above it.
//!
//! Rules it enforces:
//! - The bind password is read from `bind_password_file` at each connection
//!   (rotation needs no restart), minus one trailing newline; an empty one is
//!   refused (an LDAP simple bind with an empty password is an anonymous bind
//!   that "succeeds"). It is held in a [`Password`] whose `Debug` prints `***`
//!   and is scrubbed from every error text, so it reaches no log, audit entry
//!   or error.
//! - Plain `ldap://` is StartTLS unless the file says `starttls = false`.
//! - A search the server cuts short (size or time limit, referral, any result
//!   code but success) is an error, never a short list: a short list would
//!   look as if the rest of the people had vanished.
//! - [`DirEntry`]'s `Debug` prints the external ID only (no personal data).
//! - Errors carry stable codes ([`DirectoryError::code`]).

pub mod ldap;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

pub use ldap::{Directory, FetchSummary, Fetched, fetch, fetch_each, fetch_one};

/// Which kind of directory: the default attribute mapping and filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Microsoft Active Directory (`objectGUID`, `userAccountControl`, `uSNChanged`).
    Ad,
    /// An RFC 2798 `inetOrgPerson` directory such as OpenLDAP (`entryUUID`, `modifyTimestamp`).
    Inetorgperson,
}

impl Flavour {
    /// The search filter when the file names none.
    #[must_use]
    pub fn default_filter(self) -> &'static str {
        match self {
            Self::Ad => "(&(objectCategory=person)(objectClass=user))",
            Self::Inetorgperson => "(objectClass=inetOrgPerson)",
        }
    }
}

/// What happens to a person whose entry is no longer in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VanishAction {
    /// Suspended (resumed if the entry comes back, unless staff suspended them).
    #[default]
    Suspend,
    /// Suspended, then deleted after `delete_after_days`.
    Delete,
}

/// Days a vanished person stays suspended before deletion when
/// `on_vanish = "delete"` names no `delete_after_days`.
pub const DEFAULT_DELETE_AFTER_DAYS: u32 = 30;

/// One attribute name, or several tried in order (the first with a value wins).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum AttrNames {
    /// `email = "mail"`.
    One(String),
    /// `employee_no = ["employeeID", "employeeNumber"]`.
    Several(Vec<String>),
}

impl AttrNames {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Several(v) => v,
        }
    }
}

/// `[directory.attributes]`: a field set here replaces the flavour's default
/// (and its fallback).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeOverrides {
    /// The stable identifier (the directory link); one attribute.
    pub id: Option<String>,
    /// Given name.
    pub given_name: Option<AttrNames>,
    /// Family name.
    pub family_name: Option<AttrNames>,
    /// Email.
    pub email: Option<AttrNames>,
    /// Phone.
    pub phone: Option<AttrNames>,
    /// Employee number.
    pub employee_no: Option<AttrNames>,
    /// Department (mapped to an org unit through `[directory.org_units]`).
    pub department: Option<AttrNames>,
    /// Organization.
    pub organization: Option<AttrNames>,
    /// Group DNs (each becomes its first RDN's value, the CN); `[]` for none.
    pub groups: Option<AttrNames>,
    /// Disabled: `userAccountControl` (bit 2) or an attribute whose value
    /// `TRUE`/`true`/`1`/`yes` means disabled; `[]` for none.
    pub disabled: Option<AttrNames>,
    /// The change marker of incremental fetches: `uSNChanged` (an integer) or
    /// a GeneralizedTime attribute such as `modifyTimestamp`.
    pub marker: Option<String>,
}

fn default_interval_minutes() -> u32 {
    60
}
fn default_page_size() -> u32 {
    500
}
fn default_timeout_seconds() -> u64 {
    30
}

/// The `[directory]` table of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host[:port]` or `ldap://host[:port]` (StartTLS unless `starttls = false`).
    pub url: String,
    /// StartTLS on an `ldap://` URL; default true. Not with `ldaps://`.
    #[serde(default)]
    pub starttls: Option<bool>,
    /// The DN the service binds as (a read-only service account).
    pub bind_dn: String,
    /// File holding the bind password (one trailing newline ignored).
    pub bind_password_file: PathBuf,
    /// Where people are searched (subtree).
    pub base_dn: String,
    /// Search filter; default per flavour ([`Flavour::default_filter`]).
    #[serde(default)]
    pub filter: Option<String>,
    /// `"ad"` or `"inetorgperson"`.
    pub flavour: Flavour,
    /// Per-field attribute names replacing the flavour's defaults.
    #[serde(default)]
    pub attributes: AttributeOverrides,
    /// Minutes between scheduled syncs (default 60).
    #[serde(default = "default_interval_minutes")]
    pub interval_minutes: u32,
    /// People who vanish from the directory: `"suspend"` (default) or `"delete"`.
    #[serde(default)]
    pub on_vanish: VanishAction,
    /// With `on_vanish = "delete"`: days suspended before deletion (default 30).
    #[serde(default)]
    pub delete_after_days: Option<u32>,
    /// Entries per page of the Simple Paged Results control (default 500).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Seconds for connecting and for each operation (default 30).
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// PEM CA certificate(s) the server's certificate must chain to; default
    /// the system's CA store.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Department → org unit.
    #[serde(default)]
    pub org_units: BTreeMap<String, String>,
}

/// The attribute names in effect: the flavour's defaults with the overrides
/// applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The identifier attribute.
    pub id: String,
    /// Given name, in order of preference.
    pub given_name: Vec<String>,
    /// Family name.
    pub family_name: Vec<String>,
    /// Email.
    pub email: Vec<String>,
    /// Phone.
    pub phone: Vec<String>,
    /// Employee number.
    pub employee_no: Vec<String>,
    /// Department.
    pub department: Vec<String>,
    /// Organization.
    pub organization: Vec<String>,
    /// Group DNs (all values of all listed attributes).
    pub groups: Vec<String>,
    /// Disabled flag.
    pub disabled: Vec<String>,
    /// Change marker.
    pub marker: String,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Mapping {
    /// The defaults of a flavour.
    #[must_use]
    pub fn defaults(flavour: Flavour) -> Self {
        match flavour {
            Flavour::Ad => Self {
                id: "objectGUID".into(),
                given_name: names(&["givenName"]),
                family_name: names(&["sn"]),
                email: names(&["mail"]),
                phone: names(&["telephoneNumber"]),
                employee_no: names(&["employeeID", "employeeNumber"]),
                department: names(&["department"]),
                organization: names(&["company"]),
                groups: names(&["memberOf"]),
                disabled: names(&["userAccountControl"]),
                marker: "uSNChanged".into(),
            },
            Flavour::Inetorgperson => Self {
                id: "entryUUID".into(),
                given_name: names(&["givenName"]),
                family_name: names(&["sn"]),
                email: names(&["mail"]),
                phone: names(&["telephoneNumber"]),
                employee_no: names(&["employeeNumber"]),
                department: names(&["departmentNumber", "ou"]),
                organization: names(&["o"]),
                groups: names(&["memberOf"]),
                disabled: Vec::new(),
                marker: "modifyTimestamp".into(),
            },
        }
    }

    fn with(mut self, o: &AttributeOverrides) -> Self {
        let set = |field: &mut Vec<String>, value: &Option<AttrNames>| {
            if let Some(v) = value {
                *field = v.clone().into_vec();
            }
        };
        if let Some(id) = &o.id {
            self.id.clone_from(id);
        }
        set(&mut self.given_name, &o.given_name);
        set(&mut self.family_name, &o.family_name);
        set(&mut self.email, &o.email);
        set(&mut self.phone, &o.phone);
        set(&mut self.employee_no, &o.employee_no);
        set(&mut self.department, &o.department);
        set(&mut self.organization, &o.organization);
        set(&mut self.groups, &o.groups);
        set(&mut self.disabled, &o.disabled);
        if let Some(m) = &o.marker {
            self.marker.clone_from(m);
        }
        self
    }

    /// Every attribute an entry fetch asks for (operational ones such as
    /// `entryUUID` and `modifyTimestamp` are only returned when named), each once.
    #[must_use]
    pub fn requested(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = std::iter::once(&self.id)
            .chain(&self.given_name)
            .chain(&self.family_name)
            .chain(&self.email)
            .chain(&self.phone)
            .chain(&self.employee_no)
            .chain(&self.department)
            .chain(&self.organization)
            .chain(&self.groups)
            .chain(&self.disabled)
            .chain(std::iter::once(&self.marker));
        for a in all {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
                out.push(a.clone());
            }
        }
        out
    }

    /// Whether the identifier is AD's binary `objectGUID`.
    #[must_use]
    pub fn id_is_guid(&self) -> bool {
        self.id.eq_ignore_ascii_case("objectGUID")
    }

    /// Whether the marker is AD's integer `uSNChanged` (else GeneralizedTime).
    #[must_use]
    pub fn marker_is_usn(&self) -> bool {
        self.marker.eq_ignore_ascii_case("uSNChanged")
    }
}

/// Where a URL points and how it is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
    /// `ldap://` upgraded with StartTLS before the bind.
    StartTls,
    /// `ldap://` in clear (`starttls = false`): the password crosses the network readable.
    Plain,
}

impl LdapConfig {
    /// Parses a `[directory]` table's body (TOML) and checks it.
    ///
    /// # Errors
    /// `directory_config` naming the key at fault.
    pub fn from_toml(text: &str) -> Result<Self, DirectoryError> {
        let cfg: Self = toml::from_str(text).map_err(|e| DirectoryError::Config(e.message().to_owned()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what serde cannot: URL, TLS choice, filter syntax, numbers,
    /// attribute names. The configuration loader calls it.
    ///
    /// # Errors
    /// `directory_config` naming the key at fault.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad = |m: String| Err(DirectoryError::Config(m));
        self.host_port()?;
        if self.url.starts_with("ldaps://") && self.starttls == Some(true) {
            return bad("starttls: not with an ldaps:// url (TLS already)".into());
        }
        if self.bind_dn.trim().is_empty() {
            return bad("bind_dn: empty".into());
        }
        if self.base_dn.trim().is_empty() {
            return bad("base_dn: empty".into());
        }
        if ::ldap3::parse_filter(self.effective_filter()).is_err() {
            return bad("filter: not an LDAP filter (RFC 4515)".into());
        }
        if self.interval_minutes == 0 {
            return bad("interval_minutes: must be at least 1".into());
        }
        if self.page_size == 0 || self.page_size > i32::MAX as u32 {
            return bad("page_size: must be between 1 and 2147483647".into());
        }
        if self.timeout_seconds == 0 {
            return bad("timeout_seconds: must be at least 1".into());
        }
        if self.delete_after_days == Some(0) {
            return bad(
                "delete_after_days: at least 1 (a day to notice a directory mistake before anyone is deleted)".into()
            );
        }
        if self.delete_after_days.is_some() && self.on_vanish != VanishAction::Delete {
            return bad("delete_after_days: applies only with on_vanish = \"delete\"".into());
        }
        let m = self.mapping();
        for a in m.requested() {
            if !valid_attr_name(&a) {
                return bad(format!("attributes: `{a}` is not an attribute name"));
            }
        }
        Ok(())
    }

    /// `host:port` of the URL (default port 389, or 636 for ldaps).
    ///
    /// # Errors
    /// `directory_config` when the URL is not `ldap[s]://host[:port][/]`.
    pub fn host_port(&self) -> Result<(String, u16), DirectoryError> {
        let bad = || DirectoryError::Config("url: expected ldap://host[:port] or ldaps://host[:port]".into());
        let (rest, port) = if let Some(r) = self.url.strip_prefix("ldaps://") {
            (r, 636)
        } else if let Some(r) = self.url.strip_prefix("ldap://") {
            (r, 389)
        } else {
            return Err(bad());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '@', ' ']) {
            return Err(bad());
        }
        // [v6]:port, host:port or host.
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (h, p.parse().map_err(|_| bad())?),
                None if after.is_empty() => (h, port),
                None => return Err(bad()),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
                None => (rest, port),
            }
        };
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok((host.to_owned(), port))
    }

    /// How the connection is secured.
    #[must_use]
    pub fn transport(&self) -> Transport {
        if self.url.starts_with("ldaps://") {
            Transport::Ldaps
        } else if self.starttls.unwrap_or(true) {
            Transport::StartTls
        } else {
            Transport::Plain
        }
    }

    /// The filter in effect, in parentheses.
    #[must_use]
    pub fn effective_filter(&self) -> String {
        match self.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => {
                if f.starts_with('(') {
                    f.to_owned()
                } else {
                    format!("({f})")
                }
            }
            _ => self.flavour.default_filter().to_owned(),
        }
    }

    /// The attribute names in effect.
    #[must_use]
    pub fn mapping(&self) -> Mapping {
        Mapping::defaults(self.flavour).with(&self.attributes)
    }

    /// Days before a vanished person is deleted, or `None` when they stay suspended.
    #[must_use]
    pub fn delete_after_days(&self) -> Option<u32> {
        match self.on_vanish {
            VanishAction::Suspend => None,
            VanishAction::Delete => Some(self.delete_after_days.unwrap_or(DEFAULT_DELETE_AFTER_DAYS)),
        }
    }

    /// The org unit `[directory.org_units]` maps a department to.
    #[must_use]
    pub fn org_unit(&self, department: &str) -> Option<&str> {
        self.org_units.get(department).map(String::as_str)
    }

    /// Reads the bind password from `bind_password_file`.
    ///
    /// # Errors
    /// `directory_config` when the file is unreadable, not UTF-8 or empty
    /// (the message names the file, never its content).
    pub fn read_password(&self) -> Result<Password, DirectoryError> {
        read_password(&self.bind_password_file)
    }
}

/// RFC 4512 descriptor or numeric OID, with options (`;binary`).
fn valid_attr_name(a: &str) -> bool {
    let base = a.split(';').next().unwrap_or_default();
    let descr = base.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let oid = !base.is_empty() && base.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    descr || oid
}

/// The bind password: `Debug` prints `***`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password itself, for the bind.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the password replaced by `***`.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_owned() } else { text.replace(&self.0, "***") }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The password in `path`: its content minus one trailing `\n` (or `\r\n`).
///
/// # Errors
/// `directory_config` when unreadable, not UTF-8 or empty.
pub fn read_password(path: &Path) -> Result<Password, DirectoryError> {
    let bytes = std::fs::read(path)
        .map_err(|e| DirectoryError::Config(format!("bind_password_file {}: {}", path.display(), e.kind())))?;
    let mut text = String::from_utf8(bytes)
        .map_err(|_| DirectoryError::Config(format!("bind_password_file {}: not UTF-8", path.display())))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        // An empty simple-bind password is an unauthenticated bind (RFC 4513 5.1.2).
        return Err(DirectoryError::Config(format!("bind_password_file {}: empty", path.display())));
    }
    Ok(Password(text))
}

/// One person's entry, mapped. Fields the entry lacks are `None`; whether
/// that is acceptable is the sync engine's rule.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct DirEntry {
    /// The directory link: canonical GUID (AD), `entryUUID` or the configured attribute.
    pub external_id: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Department (see [`LdapConfig::org_unit`]).
    pub department: Option<String>,
    /// Organization.
    pub organization: Option<String>,
    /// Directory groups: each group DN's first RDN value (its CN), in the order given.
    pub groups: Vec<String>,
    /// Disabled in the directory (AD `userAccountControl` bit 2).
    pub disabled: bool,
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirEntry").field("external_id", &self.external_id).finish_non_exhaustive()
    }
}

/// The highest change marker a fetch saw; the next fetch asks only for
/// entries changed since. Stored as text ([`fmt::Display`] / [`FromStr`]):
/// `usn:12345` or `ts:20261202045349Z`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Marker {
    /// AD `uSNChanged` (per domain controller: point the URL at one DC).
    Usn(u64),
    /// A GeneralizedTime to the second, `YYYYMMDDHHMMSSZ` (`modifyTimestamp`).
    Timestamp(String),
}

impl Marker {
    /// A GeneralizedTime value (`20261202045349Z`, `20261202045349.0Z`)
    /// truncated to the second; `None` if it is not one in UTC.
    #[must_use]
    pub fn from_generalized_time(value: &str) -> Option<Self> {
        let digits = value.get(..14)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let rest = &value[14..];
        let frac_ok = match rest.strip_prefix(['.', ',']) {
            Some(f) => f.strip_suffix('Z').is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit())),
            None => rest == "Z",
        };
        frac_ok.then(|| Self::Timestamp(format!("{digits}Z")))
    }

    /// The filter term for entries changed at or after this marker (a `uSNChanged` marker asks for higher ones).
    #[must_use]
    pub fn filter_term(&self, attribute: &str) -> String {
        match self {
            Self::Usn(n) => format!("({attribute}>={})", n.saturating_add(1)),
            Self::Timestamp(t) => format!("({attribute}>={t})"),
        }
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usn(n) => write!(f, "usn:{n}"),
            Self::Timestamp(t) => write!(f, "ts:{t}"),
        }
    }
}

impl FromStr for Marker {
    type Err = DirectoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DirectoryError::Config(format!("marker `{s}`: expected usn:N or ts:YYYYMMDDHHMMSSZ"));
        if let Some(n) = s.strip_prefix("usn:") {
            n.parse().map(Self::Usn).map_err(|_| bad())
        } else if let Some(t) = s.strip_prefix("ts:") {
            Self::from_generalized_time(t).ok_or_else(bad)
        } else {
            Err(bad())
        }
    }
}

/// What went wrong talking to the directory. The text never contains the
/// bind password (scrubbed) nor entry contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// No connection (refused, unresolvable, timed out, dropped).
    #[error("directory_unreachable: {0}")]
    Unreachable(String),
    /// The server refused the bind DN and password.
    #[error("directory_bind_failed: {0}")]
    BindFailed(String),
    /// TLS or StartTLS failed (certificate not trusted, name mismatch, refused).
    #[error("directory_tls: {0}")]
    Tls(String),
    /// A search failed or was cut short by the server.
    #[error("directory_search_failed: {0}")]
    SearchFailed(String),
    /// The `[directory]` configuration or the password file is unusable.
    #[error("directory_config: {0}")]
    Config(String),
}

impl DirectoryError {
    /// The stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "directory_unreachable",
            Self::BindFailed(_) => "directory_bind_failed",
            Self::Tls(_) => "directory_tls",
            Self::SearchFailed(_) => "directory_search_failed",
            Self::Config(_) => "directory_config",
        }
    }
}

/// AD's `objectGUID` (16 bytes, the first three fields little-endian) as the
/// canonical lowercase GUID string, as PowerShell and .NET print it.
#[must_use]
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

/// The inverse of [`guid_string`] (either case, with or without braces).
#[must_use]
pub fn guid_bytes(text: &str) -> Option<[u8; 16]> {
    let t = text.trim().trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = t.split('-').collect();
    if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    let mut raw = [0u8; 16];
    for (i, out) in raw.iter_mut().enumerate() {
        *out = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    b[4..6].copy_from_slice(&[raw[5], raw[4]]);
    b[6..8].copy_from_slice(&[raw[7], raw[6]]);
    b[8..].copy_from_slice(&raw[8..]);
    Some(b)
}

/// An equality filter on binary bytes, each escaped as `\xx` (RFC 4515).
#[must_use]
pub fn binary_filter(attribute: &str, bytes: &[u8]) -> String {
    let mut f = format!("({attribute}=");
    for b in bytes {
        f.push_str(&format!("\\{b:02x}"));
    }
    f.push(')');
    f
}

/// AD `userAccountControl`: bit 2 (`ACCOUNTDISABLE`, 0x2). A value that is
/// not a number is not taken as disabled.
#[must_use]
pub fn uac_disabled(value: &str) -> bool {
    // AD writes it as a signed 32-bit decimal; accept unsigned too.
    let v = value.trim();
    v.parse::<i64>().is_ok_and(|n| n & 0x2 != 0)
}

/// A generic "disabled" value: `TRUE`, `true`, `1`, `yes`.
#[must_use]
pub fn truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

/// The value of a DN's first RDN, unescaped (RFC 4514): a group DN
/// `CN=Badge Office\, North,OU=Groups,DC=corp` gives `Badge Office, North`.
/// Of a multi-valued RDN (`cn=a+uid=b`), the first value.
#[must_use]
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let (_, value) = dn.split_once('=')?;
    let bytes = value.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) if next.is_ascii_hexdigit() => {
                        out.push(b);
                        i += 3;
                    }
                    _ => {
                        out.push(next);
                        i += 2;
                    }
                }
            }
            b',' | b'+' | b';' => break,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let s = String::from_utf8(out).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests;
