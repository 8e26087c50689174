//! Refusals of the domain, each with a stable code.
//!
//! Messages name IDs, states and UIDs — never a person's name, email or any
//! other personal data — so an error can be logged, audited and shown as is.

use crate::domain::{CredentialState, LifecycleAction, UserId, UserState};

/// Why the domain refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The credential belongs to someone who has not been expunged.
    #[error(
        "credential {uid} is held by user {holder} ({holder_state}); the holder must be expunged before the card can be issued again"
    )]
    CredentialHeld {
        /// The credential, uppercase hex.
        uid: String,
        /// Who holds it.
        holder: UserId,
        /// The holder's lifecycle state.
        holder_state: UserState,
    },
    /// The credential was reported lost, stolen or destroyed.
    #[error("credential {uid} is {state}; a retired card is never issued again")]
    CredentialRetired {
        /// The credential, uppercase hex.
        uid: String,
        /// Its retired state.
        state: CredentialState,
    },
    /// Expunge asked of a user who is not deleted.
    #[error("user {user} is {state}; delete the user first, then expunge")]
    HolderNotDeleted {
        /// The user.
        user: UserId,
        /// Their current state.
        state: UserState,
    },
    /// Anything asked of an expunged user.
    #[error("user {user} has been expunged; only the tombstone remains and nothing more can be done")]
    AlreadyExpunged {
        /// The user.
        user: UserId,
    },
    /// A lifecycle action that the user's state does not allow.
    #[error("user {user} is {state}; cannot {action}: {hint}")]
    InvalidTransition {
        /// The user.
        user: UserId,
        /// Their current state.
        state: UserState,
        /// What was asked.
        action: LifecycleAction,
        /// What would make it possible.
        hint: &'static str,
    },
    /// The user is under legal hold.
    #[error("user {user} is under legal hold; lift the hold before expunging")]
    LegalHold {
        /// The user.
        user: UserId,
    },
    /// Staff may not delete a user the directory manages.
    #[error("user {user} is linked to the identity directory; deprovision them there, or unlink them before deleting")]
    DirectoryLinked {
        /// The user.
        user: UserId,
    },
    /// Staff may not resume a suspension only the directory holds.
    #[error("user {user} was suspended by the identity directory; reactivate them there, or unlink them first")]
    DirectorySuspended {
        /// The user.
        user: UserId,
    },
    /// Refresh Org Info on a person with no directory link.
    #[error("user {user} is not linked to a directory entry")]
    NotDirectoryLinked {
        /// The user.
        user: UserId,
    },
    /// Refresh Org Info on a person whose directory cannot be asked (linked through SCIM, which pushes and
    /// cannot be pulled from, or no LDAP directory configured).
    #[error("user {user}'s directory cannot be asked for their entry: {why}")]
    DirectoryPullUnavailable {
        /// The user.
        user: UserId,
        /// Why not.
        why: &'static str,
    },
    /// A conditional write (`If-Match`) named a version that is no longer current.
    #[error("the {what} changed since that version was read; read it again")]
    VersionMismatch {
        /// What changed.
        what: &'static str,
    },
    /// A directory sync would suspend too many people at once.
    #[error(
        "{count} of {of} people linked to the directory would vanish at once; check base_dn, filter and the bind \
         account's read rights (`idms directory sync --allow-mass-vanish` applies it)"
    )]
    MassVanish {
        /// How many would vanish.
        count: usize,
        /// Of how many linked.
        of: usize,
    },
    /// Another person has that employee number.
    #[error("another person already has that employee number")]
    EmployeeNoTaken,
    /// Another person has that directory user name.
    #[error("another person already has that directory user name")]
    UserNameTaken,
    /// Expunge without a confirmation that names the user.
    #[error("expunging user {user} needs the confirmation to repeat the user ID exactly")]
    ExpungeNotConfirmed {
        /// The user.
        user: UserId,
    },
    /// A UID that is not hex (or empty).
    #[error("UID is not valid: {reason}; write it as hex bytes, e.g. 04A1B2C3, 04:a1:b2:c3 or 04 A1 B2 C3")]
    InvalidUid {
        /// What is wrong.
        reason: &'static str,
    },
    /// A UID with an odd number of hex digits.
    #[error("UID has {digits} hex digits; a UID is whole bytes, so it needs an even number of digits")]
    UidOddDigits {
        /// How many digits were given.
        digits: usize,
    },
    /// A UID whose length the technology does not allow.
    #[error("a UID ({technology}) is {allowed} bytes long, this one is {got}")]
    UidWrongLength {
        /// The technology.
        technology: &'static str,
        /// What the technology allows.
        allowed: &'static str,
        /// The length given.
        got: usize,
    },
    /// A random (privacy-mode) ISO 14443-A UID, which changes on every tap.
    #[error(
        "UID {uid} is a random UID (4 bytes starting 08): the card shows a new one on every tap, so it cannot identify anyone; enrol the card's fixed identifier instead"
    )]
    RandomUid {
        /// The UID.
        uid: String,
    },
    /// Several credentials share these bytes; the technology must be named.
    #[error("UID {uid} exists for several technologies; name the technology")]
    UidAmbiguous {
        /// The UID.
        uid: String,
    },
    /// Text that is not a user ID (never echoed: it may be a name).
    #[error("that is not a user ID; user IDs are 12 characters of 0-9 and A-Z, e.g. 7KQ2M9XW4HC1")]
    InvalidUserId,
    /// The directory link belongs to someone else.
    #[error("another person is already linked to that directory entry")]
    DirectoryIdTaken,
    /// Cards go only to active or suspended people.
    #[error("user {user} is {state}; restore the user before enrolling a card")]
    CannotReceive {
        /// The user.
        user: UserId,
        /// Their state.
        state: UserState,
    },
    /// No such user or credential.
    #[error("no {what} with ID {id}")]
    NotFound {
        /// `user` or `credential`.
        what: &'static str,
        /// The ID asked for.
        id: String,
    },
    /// The credential belongs to someone outside the caller's org unit:
    /// the same refusal as [`DomainError::CredentialHeld`], without naming who.
    #[error("credential {uid} is held by another person, who must be expunged before the card can be issued again")]
    CredentialHeldElsewhere {
        /// The credential, uppercase hex.
        uid: String,
    },
    /// A destructive command was asked for without its confirmation.
    #[error("{message}")]
    NotConfirmed {
        /// What to run instead (names no person).
        message: String,
    },
    /// Only a card issued to someone is encoded.
    #[error("credential {uid} is not issued to anyone (or is retired); only a card issued to someone is encoded")]
    CredentialNotIssued {
        /// The credential, uppercase hex.
        uid: String,
    },
    /// Purge jobs run to completion once planned.
    #[error(
        "purge job {id} cannot be aborted: once planned it runs to completion ({done} of {selected} done, {state}). To keep someone, place a legal hold or clear their purge date before the job reaches them."
    )]
    JobNotAbortable {
        /// The job.
        id: i64,
        /// People done so far.
        done: u64,
        /// People selected.
        selected: u64,
        /// `planned`, `running` or `completed`.
        state: &'static str,
    },
    /// The caller's role, org unit or kind of token does not allow this.
    #[error("{message}")]
    Forbidden {
        /// What is needed (never names a person).
        message: String,
    },
    /// Disabling this operator would leave no enabled admin without an org
    /// unit (nobody could manage operators and controllers any more).
    #[error("operator {operator} is the last enabled admin without an org unit; add or enable another admin first")]
    LastAdmin {
        /// The operator's ID.
        operator: i64,
    },
    /// The operator or controller is disabled.
    #[error("{what} {id} is disabled; enable it first")]
    Disabled {
        /// `operator` or `controller`.
        what: &'static str,
        /// Its ID.
        id: i64,
    },
    /// No operator has the name given (not echoed: a login name may be an email address).
    #[error("no operator with that name; `idms operator list` shows them")]
    UnknownOperator,
    /// A query parameter's value is not acceptable (never echoed: it may
    /// be a name).
    #[error("query parameter {field}: {message}")]
    InvalidQuery {
        /// The parameter.
        field: &'static str,
        /// What is acceptable.
        message: &'static str,
    },
    /// Unbinding asked for a credential that is not one of a twin.
    #[error(
        "credential {uid} is not a twin: no other person holds these UID bytes under another technology; unbinding only resolves twins (`idms card twins` lists them) — otherwise a card leaves its holder when they are expunged, or is retired as lost, stolen or destroyed"
    )]
    NotATwin {
        /// The credential, `technology:UID`.
        uid: String,
    },
    /// The audit chain no longer holds a head recorded earlier.
    #[error(
        "the audit chain no longer holds the recorded head: entry {seq} is missing or has another hash, so the chain was truncated or rewritten since it was recorded"
    )]
    AuditHeadMissing {
        /// The recorded head's sequence number.
        seq: i64,
    },
    /// A door, area, schedule, calendar, site or level that something
    /// still refers to cannot be deleted (no silent loss of access).
    #[error("{what} {name} is still used by {used_by}; remove it from there first")]
    InUse {
        /// `door`, `area`, `schedule`, `holiday calendar`, `site` or `access level`.
        what: &'static str,
        /// Its name.
        name: String,
        /// What refers to it (`access level Night shift`, `controller gate-ctl`, …).
        used_by: String,
    },
    /// No door has this name (names are exact: case and spelling matter).
    #[error("no door is called {name}; door names are exact, `idms door list` shows them")]
    UnknownDoor {
        /// The name asked for.
        name: String,
    },
    /// A name that another thing of the kind already has.
    #[error("there is already a {what} called {name}")]
    NameTaken {
        /// The kind.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The field.
        field: &'static str,
        /// What is wrong (never echoes personal data).
        message: String,
    },
}

impl DomainError {
    /// The stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::CredentialHeld { .. } => "credential_held",
            Self::CredentialRetired { .. } => "credential_retired",
            Self::HolderNotDeleted { .. } => "holder_not_deleted",
            Self::AlreadyExpunged { .. } => "already_expunged",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::LegalHold { .. } => "legal_hold",
            Self::DirectoryLinked { .. } => "directory_linked",
            Self::DirectorySuspended { .. } => "directory_suspended",
            Self::NotDirectoryLinked { .. } => "not_directory_linked",
            Self::DirectoryPullUnavailable { .. } => "directory_pull_unavailable",
            Self::EmployeeNoTaken => "duplicate_employee_no",
            Self::MassVanish { .. } => "mass_vanish",
            Self::VersionMismatch { .. } => "version_mismatch",
            Self::UserNameTaken => "user_name_taken",
            Self::ExpungeNotConfirmed { .. } => "expunge_not_confirmed",
            Self::InvalidUid { .. } => "invalid_uid",
            Self::UidOddDigits { .. } => "uid_odd_digits",
            Self::UidWrongLength { .. } => "uid_wrong_length",
            Self::RandomUid { .. } => "random_uid",
            Self::UidAmbiguous { .. } => "uid_ambiguous",
            Self::NotFound { .. } => "not_found",
            Self::InvalidUserId => "invalid_user_id",
            Self::DirectoryIdTaken => "directory_id_taken",
            Self::CannotReceive { .. } => "invalid_transition",
            Self::InvalidInput { .. } => "invalid_input",
            Self::InvalidQuery { .. } => "invalid_query",
            Self::Forbidden { .. } => "forbidden",
            Self::CredentialHeldElsewhere { .. } => "credential_held",
            Self::JobNotAbortable { .. } => "job_not_abortable",
            Self::CredentialNotIssued { .. } => "credential_not_issued",
            Self::NotConfirmed { .. } => "not_confirmed",
            Self::LastAdmin { .. } => "last_admin",
            Self::Disabled { .. } => "disabled",
            Self::UnknownOperator => "not_found",
            Self::NotATwin { .. } => "not_a_twin",
            Self::AuditHeadMissing { .. } => "audit_head_missing",
            Self::InUse { .. } => "in_use",
            Self::UnknownDoor { .. } => "not_found",
            Self::NameTaken { .. } => "name_taken",
        }
    }
}
