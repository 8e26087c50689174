//! Store errors: a domain refusal, or something the caller can act on.
//!
//! The underlying SQLite error is logged where it happens (it may name a
//! table or constraint, never a value) and the caller gets a variant.

use std::path::PathBuf;

use crate::domain::DomainError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain refused.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Another writer held the database past the busy timeout.
    #[error("the database is busy; try again")]
    Busy,
    /// SQLite failed; the details are in the log.
    #[error("internal database error; see the service log")]
    Database,
    /// The file system holding the database is full: the write was rolled
    /// back whole.
    #[error("the disk holding the database is full; nothing was written; free space and retry")]
    StorageFull,
    /// No database in the data directory (this one) where one was expected.
    #[error(
        "the data directory {} holds no IDMS database; check --data-dir (IDMS_DATA_DIR, data_dir), or run `idms init` to create one there",
        .0.display()
    )]
    NotInitialised(PathBuf),
    /// Written by a newer build.
    #[error("the database has schema version {found}, newer than this build knows ({known}); upgrade IDMS")]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// This build's version.
        known: i64,
    },
    /// A stored value this build cannot read.
    #[error("stored data is not readable: {0}")]
    Corrupt(&'static str),
    /// The audit chain does not verify.
    #[error("audit chain broken at entry {seq}: {problem}")]
    AuditBroken {
        /// The first bad entry.
        seq: i64,
        /// What does not hold.
        problem: &'static str,
    },
    /// An expunge committed, but its data is still in the WAL because
    /// another connection holds an old snapshot.
    #[error(
        "the user is expunged, but another process holds an old snapshot of the database, so the erased data is still in the write-ahead log; it is erased at the next checkpoint (`idms serve` retries on its own; otherwise run `idms checkpoint`)"
    )]
    ErasurePending,
    /// A file-system error.
    #[error("{0}")]
    Io(String),
    /// A device (serial port, reader) failed, with its own stable code.
    #[error("{message}")]
    Device {
        /// `port_unavailable`, `no_answer`, `port_lost`.
        code: &'static str,
        /// What happened.
        message: String,
    },
}

impl StoreError {
    /// The stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Domain(e) => e.code(),
            Self::Busy => "busy",
            Self::Database => "internal",
            Self::StorageFull => "storage_full",
            Self::NotInitialised(_) => "not_initialised",
            Self::SchemaTooNew { .. } => "schema_too_new",
            Self::Corrupt(_) => "corrupt",
            Self::AuditBroken { .. } => "audit_broken",
            Self::ErasurePending => "erasure_pending",
            Self::Io(_) => "io",
            Self::Device { code, .. } => code,
        }
    }

    /// A refusal of the request (the caller's to fix), not a failure of the store.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Domain(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        {
            tracing::warn!(error = %e, "sqlite busy");
            return Self::Busy;
        }
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            tracing::error!(error = %e, "the database's disk is full; the write was rolled back");
            return Self::StorageFull;
        }
        tracing::error!(error = %e, "sqlite error");
        Self::Database
    }
}
