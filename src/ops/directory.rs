//! People from the identity directory: what a SCIM client (a `provisioner`
//! token) may do, and staff's view of directory runs.
//!
//! Every SCIM operation needs a provisioner token and acts as the
//! directory ([`crate::store::Actor::directory`]): it may delete people it
//! links, its `active: false` is its own suspension, and `active: true`
//! lifts only that one. The lifecycle rules themselves are the store's and
//! the domain's.

use crate::directory::{DirEntry, LdapConfig, Marker};
use crate::domain::UserId;
use crate::ops::{Acting, OpsError};
use crate::store::directory::{
    DirAction, DirPerson, GroupRecord, ImportItem, ImportOptions, ItemError, OnVanish, RunReport, ScimLookup,
};
use crate::store::records::DirectorySource;
use crate::store::{Role, Store, UserRecord};

/// SCIM `POST /Users`.
pub fn scim_create_user(store: &Store, acting: &Acting, p: DirPerson) -> Result<UserRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_create_user(&acting.actor(), p)?)
}

/// SCIM `GET /Users/{id}`: a person the directory sees (linked through SCIM or by staff, not deleted).
pub fn scim_user(store: &Store, acting: &Acting, id: UserId) -> Result<UserRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_user(id)?)
}

/// SCIM `GET /Users`: the people the directory sees, narrowed by an index look-up (the caller filters further).
pub fn scim_users(store: &Store, acting: &Acting, lookup: &ScimLookup) -> Result<Vec<UserRecord>, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_users(lookup)?)
}

/// SCIM `PUT /Users/{id}`, and `PATCH` once applied to the current resource: the directory's fields and `active`.
pub fn scim_replace_user(
    store: &Store,
    acting: &Acting,
    id: UserId,
    p: DirPerson,
    if_revision: Option<i64>,
) -> Result<UserRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_replace_user(&acting.actor(), id, p, if_revision)?)
}

/// SCIM `DELETE /Users/{id}`: deleted, not expunged; the same `externalId` is refused while they are deleted.
pub fn scim_delete_user(store: &Store, acting: &Acting, id: UserId, if_revision: Option<i64>) -> Result<(), OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_delete_user(&acting.actor(), id, if_revision)?)
}

/// SCIM `POST /Groups`.
pub fn scim_create_group(
    store: &Store,
    acting: &Acting,
    display_name: String,
    external_id: Option<String>,
    members: &[UserId],
) -> Result<GroupRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_create_group(&acting.actor(), display_name, external_id, members)?)
}

/// SCIM `GET /Groups/{id}`.
pub fn scim_group(store: &Store, acting: &Acting, id: i64) -> Result<GroupRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.group(id)?)
}

/// SCIM `GET /Groups`: every group, or the one named `display_name`.
pub fn scim_groups(store: &Store, acting: &Acting, display_name: Option<&str>) -> Result<Vec<GroupRecord>, OpsError> {
    acting.require_provisioner()?;
    Ok(store.groups(display_name)?)
}

/// What a SCIM group write changes (`None`: left alone).
#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    /// New name.
    pub display_name: Option<String>,
    /// New external ID (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
    /// The whole member list (PUT, or PATCH replace of `members`).
    pub members: Option<Vec<UserId>>,
    /// Members added (PATCH add).
    pub add: Vec<UserId>,
    /// Members removed (PATCH remove).
    pub remove: Vec<UserId>,
}

/// SCIM `PUT`/`PATCH /Groups/{id}`.
pub fn scim_update_group(
    store: &Store,
    acting: &Acting,
    id: i64,
    change: GroupChange,
    if_revision: Option<i64>,
) -> Result<GroupRecord, OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_update_group(
        &acting.actor(),
        id,
        change.display_name,
        change.external_id,
        change.members.as_deref(),
        &change.add,
        &change.remove,
        if_revision,
    )?)
}

/// SCIM `DELETE /Groups/{id}`.
pub fn scim_delete_group(store: &Store, acting: &Acting, id: i64, if_revision: Option<i64>) -> Result<(), OpsError> {
    acting.require_provisioner()?;
    Ok(store.scim_delete_group(&acting.actor(), id, if_revision)?)
}

/// The columns a CSV import knows. `given_name` and `family_name` are required; a row is matched to a person by
/// `external_id` (their directory link), else by `employee_no`, else creates one.
pub const CSV_COLUMNS: &[&str] = &[
    "external_id",
    "user_name",
    "given_name",
    "family_name",
    "email",
    "phone",
    "employee_no",
    "org_unit",
    "active",
    "groups",
];

/// The most rows one CSV import takes.
pub const MAX_CSV_ROWS: usize = 200_000;

/// Reads a CSV file of people (UTF-8, a header row naming [`CSV_COLUMNS`],
/// `groups` separated by `;`, `active` `true`/`false`/empty): one item per
/// row, each read or refused with its line and column. A header naming an
/// unknown column, or missing a required one, refuses the file as a whole:
/// the one item is then that refusal, at line 1. Nothing is stored.
pub fn read_csv(bytes: &[u8]) -> Vec<ImportItem> {
    read_rows(bytes).unwrap_or_else(|header| vec![*header])
}

fn read_rows(bytes: &[u8]) -> Result<Vec<ImportItem>, Box<ImportItem>> {
    let header_error = |column: String, code: &'static str| {
        Box::new(ImportItem { line: 1, person: Err(ItemError { column: Some(column), code }) })
    };
    let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let headers = r.headers().map_err(|_| header_error(String::new(), "invalid_csv"))?.clone();
    let mut cols: Vec<usize> = Vec::new();
    for h in &headers {
        let h = h.trim_start_matches('\u{feff}').to_ascii_lowercase();
        match CSV_COLUMNS.iter().position(|c| *c == h) {
            Some(i) if !cols.contains(&i) => cols.push(i),
            Some(_) => return Err(header_error(h, "duplicate_column")),
            // Named only when it looks like a column name: a file without a header row would put its first
            // person's data here, which the run report keeps a year.
            None => {
                let looks = !h.is_empty() && h.len() <= 32 && h.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                let named = if looks { h } else { format!("column {}", cols.len() + 1) };
                return Err(header_error(named, "unknown_column"));
            }
        }
    }
    for required in ["given_name", "family_name"] {
        if !cols.iter().any(|&i| CSV_COLUMNS[i] == required) {
            return Err(header_error(required.to_owned(), "missing_column"));
        }
    }
    let mut out = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let line = u32::try_from(n + 2).unwrap_or(u32::MAX);
        if out.len() >= MAX_CSV_ROWS {
            return Err(Box::new(ImportItem { line, person: Err(ItemError { column: None, code: "too_many_rows" }) }));
        }
        let line =
            rec.as_ref().ok().and_then(|r| r.position()).map_or(line, |p| u32::try_from(p.line()).unwrap_or(line));
        let person = match rec {
            Err(_) => Err(ItemError { column: None, code: "invalid_csv" }),
            Ok(rec) if rec.len() != cols.len() => Err(ItemError { column: None, code: "wrong_field_count" }),
            Ok(rec) => csv_person(&cols, &rec),
        };
        out.push(ImportItem { line, person });
    }
    Ok(out)
}

fn csv_person(cols: &[usize], rec: &csv::StringRecord) -> Result<DirPerson, ItemError> {
    let mut p = DirPerson { active: true, ..DirPerson::default() };
    for (&c, v) in cols.iter().zip(rec) {
        let opt = || (!v.is_empty()).then(|| v.to_owned());
        match CSV_COLUMNS[c] {
            "external_id" => p.external_id = opt(),
            "user_name" => p.user_name = opt(),
            "given_name" => p.given_name = v.to_owned(),
            "family_name" => p.family_name = v.to_owned(),
            "email" => p.email = opt(),
            "phone" => p.phone = opt(),
            "employee_no" => p.employee_no = opt(),
            "org_unit" => p.org_unit = opt(),
            "groups" => {
                p.groups = Some(v.split(';').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect());
            }
            "active" => {
                p.active = match v.to_ascii_lowercase().as_str() {
                    "" | "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => return Err(ItemError { column: Some("active".into()), code: "invalid_input" }),
                }
            }
            _ => {}
        }
    }
    // The store checks every field again; these are the per-row checks it would refuse with a column.
    let checked = crate::store::check_new_user(crate::store::NewUser {
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        employee_no: p.employee_no.clone(),
        org_unit: p.org_unit.clone(),
        directory_id: p.external_id.clone(),
        ..crate::store::NewUser::default()
    });
    match checked {
        Ok(_) => Ok(p),
        Err(crate::domain::DomainError::InvalidInput { field, .. }) => {
            Err(ItemError { column: Some(field.to_owned()), code: "invalid_input" })
        }
        Err(e) => Err(ItemError { column: None, code: e.code() }),
    }
}

/// Imports people from a CSV file (an unscoped manager): all rows or none
/// when any is refused, unless `partial`; `dry_run` shows what would
/// happen. A file refused as a whole (its header) is recorded as a refused
/// run too.
pub fn import_csv(
    store: &Store,
    acting: &Acting,
    bytes: &[u8],
    dry_run: bool,
    partial: bool,
    trigger: &'static str,
) -> Result<RunReport, OpsError> {
    acting.require(Role::Manager)?;
    acting.require_unscoped()?;
    let items = read_csv(bytes);
    let opts = ImportOptions {
        source: DirectorySource::Csv,
        trigger,
        dry_run,
        partial: partial && items.iter().all(|i| i.line > 1),
        present: None,
        on_vanish: OnVanish::Suspend,
        marker: None,
        allow_mass_vanish: false,
    };
    Ok(store.import(&acting.actor(), items, &opts)?)
}

/// Recent directory runs (a manager), newest first.
pub fn runs(store: &Store, acting: &Acting, limit: u32) -> Result<Vec<RunReport>, OpsError> {
    acting.require(Role::Manager)?;
    acting.require_unscoped()?;
    Ok(store.directory_runs(limit.min(1000))?)
}

/// One run with its report (a manager).
pub fn run(store: &Store, acting: &Acting, id: i64) -> Result<RunReport, OpsError> {
    acting.require(Role::Manager)?;
    acting.require_unscoped()?;
    Ok(store.directory_run(id)?)
}

/// A directory IDMS can ask for one person's entry: the LDAP / Active
/// Directory import's (`[directory]`). SCIM pushes and cannot be asked.
pub trait Puller: Send + Sync + std::fmt::Debug {
    /// The entry with this ID as a person (`None`: it is gone), or why the
    /// directory could not be asked (`directory_unreachable`, …).
    fn pull(&self, external_id: &str) -> Result<Option<DirPerson>, crate::store::StoreError>;
}

/// Refresh Org Info (a manager): pulls the person's entry from the LDAP
/// directory now and applies it as a sync would (an entry that is gone
/// suspends them). Refused `not_directory_linked` without a link, and
/// `directory_pull_unavailable` for a person linked through SCIM, one the
/// directory deleted, or when no LDAP directory is configured.
pub fn refresh(
    store: &Store,
    acting: &Acting,
    id: UserId,
    puller: Option<&dyn Puller>,
) -> Result<(UserRecord, DirAction), OpsError> {
    use crate::domain::DomainError;
    acting.require(Role::Manager)?;
    let u = crate::ops::load_scoped(store, acting, id)?;
    let unavailable = |why| OpsError::Refused(DomainError::DirectoryPullUnavailable { user: id, why });
    let Some(link) = &u.directory else { return Err(OpsError::Refused(DomainError::NotDirectoryLinked { user: id })) };
    match link.source {
        DirectorySource::Scim => {
            return Err(unavailable(
                "they are linked through SCIM, where the directory pushes changes and cannot be asked",
            ));
        }
        DirectorySource::Csv => return Err(unavailable("they came from a CSV file, which cannot be asked")),
        DirectorySource::Ldap | DirectorySource::Staff => {}
    }
    if link.gone_at.is_some() {
        return Err(unavailable("the directory deleted them"));
    }
    let Some(ext) = link.external_id.as_deref() else { return Err(unavailable("their link names no entry")) };
    let Some(puller) = puller else {
        return Err(unavailable("no LDAP directory is configured (`[directory]` in the configuration)"));
    };
    let entry = puller.pull(ext)?;
    if entry.is_none() && link.source != DirectorySource::Ldap {
        // A link typed by staff that names no entry: nothing to apply, and not the directory's to suspend.
        return Err(unavailable("the directory holds no entry with their link"));
    }
    Ok(store.refresh_from_directory(&acting.actor(), id, entry)?)
}

/// What an LDAP entry says about a person: the org unit from its department
/// through the configured map (else the department itself); a disabled
/// account is the directory's suspension. An entry without a given or family
/// name is refused `invalid_field`, naming the attribute.
pub fn person_of(cfg: &LdapConfig, e: DirEntry) -> Result<DirPerson, ItemError> {
    let names = cfg.mapping();
    let missing = |attrs: &[String]| ItemError { column: attrs.first().cloned(), code: "invalid_field" };
    let given = e.given_name.filter(|g| !g.trim().is_empty()).ok_or_else(|| missing(&names.given_name))?;
    let family = e.family_name.filter(|f| !f.trim().is_empty()).ok_or_else(|| missing(&names.family_name))?;
    let org_unit = e.department.as_deref().map(|d| cfg.org_unit(d).unwrap_or(d).to_owned());
    Ok(DirPerson {
        external_id: Some(e.external_id),
        user_name: None,
        given_name: given,
        family_name: family,
        email: e.email,
        phone: e.phone,
        employee_no: e.employee_no,
        org_unit,
        groups: Some(e.groups),
        active: !e.disabled,
    })
}

/// Past this many entries to read one by one, a sync reads the whole directory instead.
const MAX_SINGLE_READS: usize = 200;

/// A directory error as the store's: its stable code, its text (which never holds the bind password).
fn directory_error(e: &crate::directory::DirectoryError) -> crate::store::StoreError {
    crate::store::StoreError::Device { code: e.code(), message: e.to_string() }
}

/// Syncs people from the LDAP directory now (an unscoped admin; the
/// service's schedule acts as `directory:ldap`): only the entries changed
/// since the last recorded run's marker (all of them the first time), every
/// entry's ID for those that vanished, then [`Store::import`] — one
/// transaction, one audit entry with the counts, a run report kept a year.
/// A refused entry (a missing name, another person's employee number) is
/// reported and the others are applied. A dry run changes and records
/// nothing.
pub fn sync(
    store: &Store,
    acting: &Acting,
    cfg: &LdapConfig,
    dry_run: bool,
    allow_mass_vanish: bool,
    trigger: &'static str,
) -> Result<RunReport, OpsError> {
    acting.require(Role::Admin)?;
    acting.require_unscoped()?;
    let since = store.directory_marker()?.and_then(|m| m.parse::<Marker>().ok());
    let fetched = match crate::directory::fetch(cfg, since.as_ref()) {
        Ok(f) => f,
        Err(e) => {
            // A run that could not read the directory is on the record too (its code; the text may name hosts).
            store.audit_refusal(&acting.actor(), crate::store::AuditDraft::new("directory.sync"), e.code())?;
            return Err(directory_error(&e).into());
        }
    };
    let mut entries = fetched.entries;
    // Entries the incremental fetch did not return because they did not change, yet no person is linked to: new
    // to this service, or their person was expunged (which erases the link) — read them now.
    if let (Some(_), Some(ids)) = (&since, &fetched.all_ids) {
        // People whose entry had vanished count as unknown: an entry that comes back unchanged is read again.
        let mut known = store.directory_ids(DirectorySource::Ldap)?;
        for v in store.vanished_directory_ids()? {
            known.remove(&v);
        }
        let got: std::collections::HashSet<&str> = entries.iter().map(|e| e.external_id.as_str()).collect();
        let unknown: Vec<String> =
            ids.iter().filter(|i| !known.contains(*i) && !got.contains(i.as_str())).cloned().collect();
        if unknown.len() > MAX_SINGLE_READS {
            entries = crate::directory::fetch(cfg, None).map_err(|e| directory_error(&e))?.entries;
        } else {
            let mut d = crate::directory::Directory::connect(cfg).map_err(|e| directory_error(&e))?;
            for id in unknown {
                if let Some(e) = d.fetch_one(&id).map_err(|e| directory_error(&e))? {
                    entries.push(e);
                }
            }
            d.close();
        }
    }
    let items = (1u32..).zip(entries).map(|(line, e)| ImportItem { line, person: person_of(cfg, e) }).collect();
    let opts = ImportOptions {
        source: DirectorySource::Ldap,
        trigger,
        dry_run,
        partial: true,
        present: fetched.all_ids.map(|ids| ids.into_iter().collect()),
        on_vanish: match cfg.delete_after_days() {
            Some(d) => OnVanish::DeleteAfterDays(d),
            None => OnVanish::Suspend,
        },
        marker: fetched.marker.map(|m| m.to_string()).or_else(|| since.map(|m| m.to_string())),
        allow_mass_vanish,
    };
    Ok(store.import(&acting.actor(), items, &opts)?)
}

/// The LDAP directory as Refresh Org Info's [`Puller`].
#[derive(Debug, Clone)]
pub struct LdapPuller(pub LdapConfig);

impl Puller for LdapPuller {
    fn pull(&self, external_id: &str) -> Result<Option<DirPerson>, crate::store::StoreError> {
        let entry = crate::directory::fetch_one(&self.0, external_id).map_err(|e| directory_error(&e))?;
        entry
            .map(|e| {
                person_of(&self.0, e).map_err(|i| {
                    crate::store::StoreError::from(crate::domain::DomainError::InvalidInput {
                        field: "directory entry",
                        message: format!("the entry's {} is missing", i.column.unwrap_or_default()),
                    })
                })
            })
            .transpose()
    }
}
