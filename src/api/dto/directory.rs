//! Directory runs: LDAP syncs and CSV imports, with their reports.

use utoipa::ToSchema;

use crate::domain::{Timestamp, UserId};
use crate::store::directory as store;

/// A directory sync or CSV import: its counts, and (for one run) what it did to whom — IDs and codes, no
/// personal data.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct DirectoryRun {
    /// ID (`null`: a dry run, not recorded).
    pub id: Option<i64>,
    /// `ldap` or `csv`.
    pub source: String,
    /// What started it: `cli`, `schedule`, `upload`, `api`.
    pub trigger: String,
    /// A dry run: nothing was changed or recorded.
    pub dry_run: bool,
    /// When it ran (RFC 3339, UTC).
    #[schema(value_type = String)]
    pub started_at: Timestamp,
    /// `ok`; `refused` (some entries were refused, so none was applied); or an error code.
    pub outcome: String,
    /// New people.
    pub created: u32,
    /// People whose fields changed.
    pub updated: u32,
    /// Suspended by the directory (`active: false`, a disabled account, a vanished entry).
    pub suspended: u32,
    /// The directory's suspension lifted.
    pub resumed: u32,
    /// Deleted by the directory.
    pub deleted: u32,
    /// Left alone, with a code (`deleted_in_idms`, `linked_elsewhere`).
    pub skipped: u32,
    /// Refused, with a code and, where one is named, a column.
    pub refused: u32,
    /// Nothing to change.
    pub unchanged: u32,
    /// Every person created, changed, suspended, resumed, deleted, skipped or refused (empty in listings).
    pub items: Vec<RunItem>,
}

/// What a run did to one person or entry.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct RunItem {
    /// The person (`null` for a refused entry that names none).
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    /// The CSV line (1: the header) or the entry's position.
    pub line: Option<u32>,
    /// The column or attribute a refusal names.
    pub column: Option<String>,
    /// `created`, `updated`, `suspended`, `resumed`, `deleted`, `skipped` or `refused`.
    pub action: &'static str,
    /// Why: `deleted_in_idms`, `linked_elsewhere`, `vanished`, `invalid_input`, `duplicate_employee_no`,
    /// `duplicate_external_id`, `unknown_column`, …
    pub code: Option<String>,
}

impl From<store::RunReport> for DirectoryRun {
    fn from(r: store::RunReport) -> Self {
        let c = r.counts;
        Self {
            id: r.id,
            source: r.source,
            trigger: r.trigger,
            dry_run: r.dry_run,
            started_at: r.started_at,
            outcome: r.outcome,
            created: c.created,
            updated: c.updated,
            suspended: c.suspended,
            resumed: c.resumed,
            deleted: c.deleted,
            skipped: c.skipped,
            refused: c.refused,
            unchanged: c.unchanged,
            items: r
                .items
                .into_iter()
                .map(|i| RunItem {
                    user_id: i.user,
                    line: i.line,
                    column: i.column,
                    action: i.action.as_str(),
                    code: i.code,
                })
                .collect(),
        }
    }
}
