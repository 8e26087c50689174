//! The blocking LDAP client (`ldap3`'s `LdapConn`: it drives its own
//! current-thread runtime, so call it from a blocking thread, never from an
//! async task).
//!
//! - [`Directory::connect`]: TCP (+ StartTLS) or TLS with rustls (`ring`),
//!   trusting `ca_file` or the system CA store, then a simple bind.
//! - [`Directory::fetch_each`] / [`fetch`]: a subtree search with the Simple
//!   Paged Results control (RFC 2696), so a server size limit does not cut
//!   it; attributes named explicitly (operational ones included). With a
//!   marker, only entries changed since, plus every entry's ID from an
//!   ID-only search on a second connection at the same time, so the caller
//!   can tell who vanished.
//! - [`Directory::fetch_one`]: one entry by its external ID ("Refresh Org Info").

use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::PagedResults;
use ldap3::asn1::{PL, StructureTag};
use ldap3::{LdapConn, LdapConnSettings, LdapError, LdapResult, ResultEntry, Scope};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{
    DirEntry, DirectoryError, LdapConfig, Mapping, Marker, Password, Transport, binary_filter, first_rdn_value,
    guid_bytes, guid_string, truthy, uac_disabled,
};

/// LDAP result code `invalidCredentials`.
const INVALID_CREDENTIALS: u32 = 49;

/// A fetch's outcome when entries went to a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSummary {
    /// Entries handed to the callback.
    pub entries: usize,
    /// Every entry's external ID under the base and filter (for vanish
    /// detection): from the entries themselves on a full fetch, from an
    /// ID-only search (a second connection, run alongside) on an incremental
    /// one. Always `Some` from this client.
    pub all_ids: Option<Vec<String>>,
    /// The highest change marker seen (or the one given, when nothing changed);
    /// `None` only when no entry carried one.
    pub marker: Option<Marker>,
    /// Entries left out because their ID attribute was missing or malformed.
    pub skipped_no_id: usize,
    /// Whether only the entries changed since the given marker were fetched.
    pub incremental: bool,
}

/// A fetch's outcome with the entries collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The entries (all, or those changed since the marker).
    pub entries: Vec<DirEntry>,
    /// See [`FetchSummary::all_ids`].
    pub all_ids: Option<Vec<String>>,
    /// See [`FetchSummary::marker`].
    pub marker: Option<Marker>,
    /// See [`FetchSummary::skipped_no_id`].
    pub skipped_no_id: usize,
    /// See [`FetchSummary::incremental`].
    pub incremental: bool,
}

/// A bound connection to the directory.
pub struct Directory {
    conn: LdapConn,
    /// For a second connection.
    cfg: LdapConfig,
    base_dn: String,
    filter: String,
    page_size: i32,
    timeout: Duration,
    mapping: Mapping,
    password: Password,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("base_dn", &self.base_dn).finish_non_exhaustive()
    }
}

/// Connects, fetches (see [`Directory::fetch`]) and unbinds.
///
/// # Errors
/// See [`Directory::connect`] and [`Directory::fetch`].
pub fn fetch(cfg: &LdapConfig, since: Option<&Marker>) -> Result<Fetched, DirectoryError> {
    let mut d = Directory::connect(cfg)?;
    let out = d.fetch(since);
    d.close();
    out
}

/// Connects, fetches into `on_entry` (see [`Directory::fetch_each`]) and unbinds.
///
/// # Errors
/// See [`Directory::connect`] and [`Directory::fetch_each`].
pub fn fetch_each(
    cfg: &LdapConfig,
    since: Option<&Marker>,
    on_entry: impl FnMut(DirEntry),
) -> Result<FetchSummary, DirectoryError> {
    let mut d = Directory::connect(cfg)?;
    let out = d.fetch_each(since, on_entry);
    d.close();
    out
}

/// Connects, fetches one entry (see [`Directory::fetch_one`]) and unbinds.
///
/// # Errors
/// See [`Directory::connect`] and [`Directory::fetch_one`].
pub fn fetch_one(cfg: &LdapConfig, external_id: &str) -> Result<Option<DirEntry>, DirectoryError> {
    let mut d = Directory::connect(cfg)?;
    let out = d.fetch_one(external_id);
    d.close();
    out
}

impl Directory {
    /// Checks `cfg`, reads the password file, connects and binds.
    ///
    /// # Errors
    /// `directory_config` (configuration, password file, CA file),
    /// `directory_unreachable`, `directory_tls`, `directory_bind_failed`.
    pub fn connect(cfg: &LdapConfig) -> Result<Self, DirectoryError> {
        cfg.validate()?;
        let password = cfg.read_password()?;
        let timeout = Duration::from_secs(cfg.timeout_seconds);
        let transport = cfg.transport();
        let mut settings = LdapConnSettings::new().set_conn_timeout(timeout);
        if transport != Transport::Plain {
            settings = settings.set_config(tls_config(cfg)?).set_starttls(transport == Transport::StartTls);
        }
        let mut conn = LdapConn::with_settings(settings, &cfg.url)
            .map_err(|e| connect_error(&e, transport == Transport::StartTls, &password))?;
        let bound = conn.with_timeout(timeout).simple_bind(&cfg.bind_dn, password.expose());
        match bound {
            Ok(r) if r.rc == 0 => {}
            Ok(r) => {
                let _ = conn.unbind();
                return Err(DirectoryError::BindFailed(describe_result(&r, &password)));
            }
            Err(e) => return Err(op_error(&e, &password, DirectoryError::BindFailed)),
        }
        Ok(Self {
            conn,
            cfg: cfg.clone(),
            base_dn: cfg.base_dn.clone(),
            filter: cfg.effective_filter(),
            page_size: i32::try_from(cfg.page_size).unwrap_or(i32::MAX),
            timeout,
            mapping: cfg.mapping(),
            password,
        })
    }

    /// Unbinds and closes (also done, less politely, on drop).
    pub fn close(mut self) {
        let _ = self.conn.unbind();
    }

    /// The attribute names in effect.
    #[must_use]
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Every entry (no marker, or a marker of another kind than the
    /// configured marker attribute), or those changed since `since`; see
    /// [`FetchSummary`].
    ///
    /// # Errors
    /// `directory_search_failed` (including a search the server cut short),
    /// `directory_unreachable` (the connection dropped or timed out).
    pub fn fetch(&mut self, since: Option<&Marker>) -> Result<Fetched, DirectoryError> {
        let mut entries = Vec::new();
        let s = self.fetch_each(since, |e| entries.push(e))?;
        Ok(Fetched {
            entries,
            all_ids: s.all_ids,
            marker: s.marker,
            skipped_no_id: s.skipped_no_id,
            incremental: s.incremental,
        })
    }

    /// As [`Directory::fetch`], handing each entry to `on_entry` as it arrives.
    ///
    /// # Errors
    /// As [`Directory::fetch`]; entries already handed over stay handed over.
    pub fn fetch_each(
        &mut self,
        since: Option<&Marker>,
        mut on_entry: impl FnMut(DirEntry),
    ) -> Result<FetchSummary, DirectoryError> {
        let usn = self.mapping.marker_is_usn();
        let since = since.filter(|m| matches!(m, Marker::Usn(_)) == usn);
        let filter = match since {
            Some(m) => format!("(&{}{})", self.filter, m.filter_term(&self.mapping.marker)),
            None => self.filter.clone(),
        };
        let attrs = self.mapping.requested();
        let mapping = self.mapping.clone();
        let mut marker = since.cloned();
        let mut ids = Vec::new();
        let (mut count, mut skipped) = (0usize, 0usize);
        let changed = |d: &mut Self| {
            d.search(&filter, attrs, |raw| match map_entry(&mapping, raw) {
                Some((entry, m)) => {
                    if m > marker {
                        marker = m;
                    }
                    if since.is_none() {
                        ids.push(entry.external_id.clone());
                    }
                    count += 1;
                    on_entry(entry);
                }
                None => skipped += 1,
            })
        };
        let all_ids = if since.is_some() {
            // Every ID on a second connection while this one reads the changed
            // entries: the ID search is most of an incremental fetch's time.
            let cfg = self.cfg.clone();
            std::thread::scope(|scope| {
                let other = scope.spawn(move || {
                    let mut d = Self::connect(&cfg)?;
                    let out = d.all_ids();
                    d.close();
                    out
                });
                let searched = changed(self);
                let all =
                    other.join().unwrap_or_else(|_| Err(DirectoryError::SearchFailed("the ID search stopped".into())));
                searched.and(all)
            })?
        } else {
            changed(self)?;
            ids
        };
        Ok(FetchSummary {
            entries: count,
            all_ids: Some(all_ids),
            marker,
            skipped_no_id: skipped,
            incremental: since.is_some(),
        })
    }

    /// Every entry's external ID (the ID attribute alone, paged).
    ///
    /// # Errors
    /// As [`Directory::fetch`].
    pub fn all_ids(&mut self) -> Result<Vec<String>, DirectoryError> {
        let filter = self.filter.clone();
        let mapping = self.mapping.clone();
        let mut ids = Vec::new();
        self.search(&filter, vec![mapping.id.clone()], |raw| {
            if let Some(id) = raw.first(&mapping.id).and_then(|v| external_id(&mapping, v)) {
                ids.push(id);
            }
        })?;
        Ok(ids)
    }

    /// The entry whose ID attribute is `external_id`, within the base and filter.
    ///
    /// # Errors
    /// As [`Directory::fetch`]; `Ok(None)` when there is no such entry (or
    /// the text cannot be an `objectGUID`).
    pub fn fetch_one(&mut self, external_id: &str) -> Result<Option<DirEntry>, DirectoryError> {
        let term = if self.mapping.id_is_guid() {
            match guid_bytes(external_id) {
                Some(b) => binary_filter(&self.mapping.id, &b),
                None => return Ok(None),
            }
        } else {
            format!("({}={})", self.mapping.id, ldap3::ldap_escape(external_id))
        };
        let filter = format!("(&{}{term})", self.filter);
        let attrs = self.mapping.requested();
        let mapping = self.mapping.clone();
        let mut found = None;
        self.search(&filter, attrs, |raw| {
            if found.is_none() {
                found = map_entry(&mapping, raw).map(|(e, _)| e);
            }
        })?;
        // The search matched on the server's rules; the link must be the same ID.
        let same = |e: &DirEntry| {
            if self.mapping.id_is_guid() {
                guid_bytes(&e.external_id) == guid_bytes(external_id)
            } else {
                e.external_id.eq_ignore_ascii_case(external_id.trim())
            }
        };
        Ok(found.filter(same))
    }

    /// A paged subtree search; each entry goes to `each`; any result but
    /// success is an error.
    fn search(
        &mut self,
        filter: &str,
        attrs: Vec<String>,
        mut each: impl FnMut(&RawEntry),
    ) -> Result<(), DirectoryError> {
        let password = self.password.clone();
        let failed = |e: &LdapError| op_error(e, &password, DirectoryError::SearchFailed);
        let mut stream = self
            .conn
            .with_timeout(self.timeout)
            .streaming_search_with(PagedResults::new(self.page_size), &self.base_dn, Scope::Subtree, filter, attrs)
            .map_err(|e| failed(&e))?;
        loop {
            match stream.next() {
                Ok(Some(re)) => {
                    if re.is_ref() || re.is_intermediate() {
                        continue;
                    }
                    match RawEntry::parse(re) {
                        Some(raw) => each(&raw),
                        None => {
                            return Err(DirectoryError::SearchFailed("an entry the client could not decode".into()));
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(failed(&e)),
            }
        }
        let r = stream.result();
        if r.rc != 0 {
            return Err(DirectoryError::SearchFailed(describe_result(&r, &password)));
        }
        Ok(())
    }
}

/// rustls with the `ring` provider, trusting `ca_file` or the system store.
fn tls_config(cfg: &LdapConfig) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| DirectoryError::Config(format!("ca_file {}: {}", path.display(), e.kind())))?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|_| DirectoryError::Config(format!("ca_file {}: not PEM certificates", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(DirectoryError::Config(format!("ca_file {}: no usable certificate", path.display())));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(DirectoryError::Config("ca_file: none given and no system CA certificates found".into()));
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether an I/O error carries a rustls error (a failed handshake).
fn is_tls_io(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

fn connect_error(e: &LdapError, starttls: bool, password: &Password) -> DirectoryError {
    let text = password.scrub(&e.to_string());
    match e {
        LdapError::Io { source } if is_tls_io(source) => DirectoryError::Tls(text),
        LdapError::Rustls { .. } | LdapError::DNSName { .. } => DirectoryError::Tls(text),
        // The server answered the StartTLS request with an error.
        LdapError::LdapResult { .. } if starttls => DirectoryError::Tls(format!("StartTLS refused: {text}")),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => DirectoryError::Config(text),
        _ => DirectoryError::Unreachable(text),
    }
}

/// An operation's failure: a dropped connection or a timeout is
/// `directory_unreachable`, the rest `otherwise`.
fn op_error(e: &LdapError, password: &Password, otherwise: fn(String) -> DirectoryError) -> DirectoryError {
    let text = password.scrub(&e.to_string());
    match e {
        LdapError::Io { .. } | LdapError::Timeout { .. } | LdapError::ResultRecv { .. } | LdapError::OpSend { .. } => {
            DirectoryError::Unreachable(text)
        }
        LdapError::LdapResult { result } if result.rc == INVALID_CREDENTIALS => {
            DirectoryError::BindFailed(describe_result(result, password))
        }
        LdapError::LdapResult { result } => otherwise(describe_result(result, password)),
        _ => otherwise(text),
    }
}

/// `rc 49 (invalidCredentials): server text`, password scrubbed.
fn describe_result(r: &LdapResult, password: &Password) -> String {
    let name = match r.rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "",
    };
    let mut s = format!("rc {}", r.rc);
    if !name.is_empty() {
        s.push_str(&format!(" ({name})"));
    }
    if !r.text.is_empty() {
        s.push_str(": ");
        s.push_str(&password.scrub(&r.text));
    }
    s
}

/// A search result entry's attributes as bytes, decoded without panicking
/// (`ldap3::SearchEntry::construct` panics on a malformed entry).
#[derive(Debug, Default)]
struct RawEntry {
    attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    fn parse(re: ResultEntry) -> Option<Self> {
        let StructureTag { id: 4, payload: PL::C(parts), .. } = re.0 else { return None };
        let mut parts = parts.into_iter();
        let _dn = parts.next()?;
        let PL::C(list) = parts.next()?.payload else { return None };
        let mut attrs = Vec::with_capacity(list.len());
        for a in list {
            let PL::C(pair) = a.payload else { return None };
            let mut pair = pair.into_iter();
            let PL::P(name) = pair.next()?.payload else { return None };
            let PL::C(vals) = pair.next()?.payload else { return None };
            let mut values = Vec::with_capacity(vals.len());
            for v in vals {
                let PL::P(bytes) = v.payload else { return None };
                values.push(bytes);
            }
            attrs.push((String::from_utf8(name).ok()?, values));
        }
        Some(Self { attrs })
    }

    /// All values of `name` (attribute names are case-insensitive; a
    /// returned `name;binary` counts as `name`).
    fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .iter()
            .find(|(n, _)| {
                let base = n.split(';').next().unwrap_or_default();
                base.eq_ignore_ascii_case(name.split(';').next().unwrap_or_default())
            })
            .map_or(&[], |(_, v)| v.as_slice())
    }

    fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(Vec::as_slice)
    }

    /// The first non-blank text value among `names`, trimmed.
    fn text(&self, names: &[String]) -> Option<String> {
        names.iter().find_map(|n| {
            self.values(n).iter().find_map(|v| {
                let s = std::str::from_utf8(v).ok()?.trim();
                (!s.is_empty()).then(|| s.to_owned())
            })
        })
    }
}

fn external_id(mapping: &Mapping, value: &[u8]) -> Option<String> {
    if mapping.id_is_guid() {
        guid_string(value)
    } else {
        let s = std::str::from_utf8(value).ok()?.trim();
        (!s.is_empty()).then(|| s.to_owned())
    }
}

/// The entry and its change marker; `None` without a usable ID.
fn map_entry(mapping: &Mapping, raw: &RawEntry) -> Option<(DirEntry, Option<Marker>)> {
    let external_id = external_id(mapping, raw.first(&mapping.id)?)?;
    let groups = mapping
        .groups
        .iter()
        .flat_map(|a| raw.values(a))
        .filter_map(|v| std::str::from_utf8(v).ok().and_then(first_rdn_value))
        .collect();
    let disabled = mapping.disabled.iter().any(|a| {
        let uac = a.eq_ignore_ascii_case("userAccountControl");
        raw.values(a)
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .any(|v| if uac { uac_disabled(v) } else { truthy(v) })
    });
    let marker = raw.first(&mapping.marker).and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| {
        if mapping.marker_is_usn() {
            v.trim().parse().ok().map(Marker::Usn)
        } else {
            Marker::from_generalized_time(v.trim())
        }
    });
    let entry = DirEntry {
        external_id,
        given_name: raw.text(&mapping.given_name),
        family_name: raw.text(&mapping.family_name),
        email: raw.text(&mapping.email),
        phone: raw.text(&mapping.phone),
        employee_no: raw.text(&mapping.employee_no),
        department: raw.text(&mapping.department),
        organization: raw.text(&mapping.organization),
        groups,
        disabled,
    };
    Some((entry, marker))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Flavour;

    fn raw(attrs: &[(&str, &[&[u8]])]) -> RawEntry {
        RawEntry {
            attrs: attrs.iter().map(|(n, v)| ((*n).to_owned(), v.iter().map(|b| b.to_vec()).collect())).collect(),
        }
    }

    const GUID: [u8; 16] =
        [0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];

    #[test]
    fn an_ad_entry_maps_with_its_fallbacks_and_flags() {
        let m = Mapping::defaults(Flavour::Ad);
        let r = raw(&[
            ("objectGUID", &[&GUID]),
            ("givenname", &[b"Ada"]),
            ("sn", &[b" Lovelace "]),
            ("employeeNumber", &[b"E-7"]),
            ("memberOf", &[b"CN=Badge Office,OU=Groups,DC=corp", b"cn=Smith\\, J,dc=corp"]),
            ("userAccountControl", &[b"514"]),
            ("uSNChanged", &[b"98765"]),
        ]);
        let (e, marker) = map_entry(&m, &r).unwrap();
        assert_eq!(e.external_id, "12345678-1234-5678-1234-56789abcdef0");
        assert_eq!(e.given_name.as_deref(), Some("Ada"), "attribute names are case-insensitive");
        assert_eq!(e.family_name.as_deref(), Some("Lovelace"));
        assert_eq!(e.employee_no.as_deref(), Some("E-7"), "employeeID is absent: employeeNumber");
        assert_eq!(e.groups, ["Badge Office", "Smith, J"]);
        assert!(e.disabled, "514 has bit 2");
        assert_eq!(marker, Some(Marker::Usn(98765)));
        assert_eq!(e.email, None);
    }

    #[test]
    fn employee_id_wins_over_employee_number_and_512_is_enabled() {
        let m = Mapping::defaults(Flavour::Ad);
        let r = raw(&[
            ("objectGUID", &[&GUID]),
            ("employeeID", &[b"ID1"]),
            ("employeeNumber", &[b"N2"]),
            ("userAccountControl", &[b"512"]),
        ]);
        let (e, _) = map_entry(&m, &r).unwrap();
        assert_eq!(e.employee_no.as_deref(), Some("ID1"));
        assert!(!e.disabled);
    }

    #[test]
    fn an_entry_without_a_usable_id_is_skipped() {
        let m = Mapping::defaults(Flavour::Ad);
        assert!(map_entry(&m, &raw(&[("givenName", &[b"A"])])).is_none());
        assert!(map_entry(&m, &raw(&[("objectGUID", &[b"short"])])).is_none(), "a GUID is 16 bytes");
    }

    #[test]
    fn an_inetorgperson_entry_maps_department_from_ou_and_its_timestamp() {
        let m = Mapping::defaults(Flavour::Inetorgperson);
        let r = raw(&[
            ("entryUUID", &[b"1bfcf8c8-8258-1041-99b9-a3b19be7c676"]),
            ("ou", &[b"Facilities"]),
            ("o", &[b"Example"]),
            ("modifyTimestamp", &[b"20261202045349Z"]),
        ]);
        let (e, marker) = map_entry(&m, &r).unwrap();
        assert_eq!(e.external_id, "1bfcf8c8-8258-1041-99b9-a3b19be7c676");
        assert_eq!(e.department.as_deref(), Some("Facilities"));
        assert_eq!(e.organization.as_deref(), Some("Example"));
        assert!(!e.disabled);
        assert_eq!(marker, Some(Marker::Timestamp("20261202045349Z".into())));
    }

    #[test]
    fn a_malformed_result_entry_is_refused_not_a_panic() {
        let bad = ResultEntry::new(StructureTag {
            class: ldap3::asn1::TagClass::Application,
            id: 4,
            payload: PL::P(vec![1]),
        });
        assert!(RawEntry::parse(bad).is_none());
    }

    #[test]
    fn describe_result_scrubs_the_password() {
        let p = Password("hunter2".into());
        let r = LdapResult { rc: 49, matched: String::new(), text: "bad hunter2".into(), refs: vec![], ctrls: vec![] };
        let d = describe_result(&r, &p);
        assert_eq!(d, "rc 49 (invalidCredentials): bad ***");
    }
}
