//! Ordered migrations. The schema version is SQLite's `user_version`;
//! pending migrations run in one transaction, so a database is never left
//! between two versions.
//!
//! **Architecture invariant:** the rules that must hold under concurrency
//! are constraints here, not only checks in Rust: one open binding per
//! credential (unique partial index), `(technology, uid)` unique, one
//! holder per UID bytes across technologies (trigger), a tombstone holds no
//! personal data (CHECK) and stays one, a retired card stays retired
//! (triggers), states are closed sets (CHECK).

use rusqlite::Connection;

use crate::store::StoreError;

/// Each entry moves the schema one version up. Never edit a released one.
pub const MIGRATIONS: &[&str] = &[
    // 1: users, credentials, bindings, change log, audit.
    r"
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,            -- random 60-bit, never reused: rows are never deleted
    state               TEXT NOT NULL CHECK (state IN ('active','suspended','deleted','expunged')),
    state_before_delete TEXT CHECK (state_before_delete IN ('active','suspended')),
    given_name          TEXT,
    family_name         TEXT COLLATE NOCASE,
    family_fold         TEXT,                           -- family_name case-folded (Unicode) for search
    email               TEXT COLLATE NOCASE,
    phone               TEXT,
    employee_no         TEXT,
    notes               TEXT,
    photo               BLOB,
    directory_id        TEXT,
    org_unit            TEXT,
    legal_hold          INTEGER NOT NULL DEFAULT 0 CHECK (legal_hold IN (0, 1)),
    valid_from          INTEGER,
    valid_to            INTEGER,
    purge_date          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    deleted_at          INTEGER,
    expunged_at         INTEGER,
    expunged_by         TEXT,
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from),
    CHECK (state <> 'expunged' OR (given_name IS NULL AND family_name IS NULL AND family_fold IS NULL AND email IS NULL
        AND phone IS NULL AND employee_no IS NULL AND notes IS NULL AND photo IS NULL
        AND directory_id IS NULL AND expunged_at IS NOT NULL))
);
CREATE INDEX users_family_fold ON users(family_fold) WHERE family_fold IS NOT NULL;
CREATE INDEX users_email ON users(email) WHERE email IS NOT NULL;
CREATE INDEX users_employee_no ON users(employee_no) WHERE employee_no IS NOT NULL;
CREATE UNIQUE INDEX users_directory_id ON users(directory_id) WHERE directory_id IS NOT NULL;

CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY,
    technology  TEXT NOT NULL CHECK (technology IN ('iso14443a','em4100','other')),
    uid         BLOB NOT NULL CHECK (length(uid) BETWEEN 1 AND 16),
    state       TEXT NOT NULL CHECK (state IN ('in_stock','issued','suspended','lost','stolen','destroyed')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (technology, uid)
);

CREATE TABLE bindings (
    id            INTEGER PRIMARY KEY,
    credential_id INTEGER NOT NULL REFERENCES credentials(id),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    opened_at     INTEGER NOT NULL,
    opened_by     TEXT NOT NULL,
    closed_at     INTEGER,
    closed_by     TEXT,
    close_reason  TEXT CHECK (close_reason IN ('holder_expunged')),
    CHECK ((closed_at IS NULL) = (close_reason IS NULL))
);
-- The recycle rule's last line of defence: one open binding per credential.
CREATE UNIQUE INDEX bindings_one_open ON bindings(credential_id) WHERE closed_at IS NULL;
CREATE INDEX bindings_user ON bindings(user_id);
CREATE INDEX bindings_credential ON bindings(credential_id);

CREATE TABLE change_log (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('user','credential')),
    user_id          INTEGER NOT NULL,  -- the user, or the credential's holder (0: none)
    user_state       TEXT,
    valid_from       INTEGER,
    valid_to         INTEGER,
    technology       TEXT,
    uid              BLOB,
    credential_state TEXT
);

-- User rows are never deleted (an expunged user stays as a tombstone), so
-- an ID can never come back.
CREATE TRIGGER users_never_deleted BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users are never deleted; expunge leaves a tombstone'); END;

CREATE TABLE audit (
    seq               INTEGER PRIMARY KEY,
    at                INTEGER NOT NULL,
    actor             TEXT NOT NULL,
    action            TEXT NOT NULL,
    target_user       INTEGER,
    target_credential TEXT,
    outcome           TEXT NOT NULL,
    detail            TEXT NOT NULL,
    prev_hash         BLOB NOT NULL,
    hash              BLOB NOT NULL
);
-- Append-only through SQL; the hash chain catches edits made around it.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

",
    // 2: operators, their tokens, door controllers and their doors.
    r"
CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('viewer','enroller','manager','eraser','admin')),
    org_unit      TEXT,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

CREATE TABLE controllers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    disabled_at INTEGER
);

CREATE TABLE controller_doors (
    controller_id INTEGER NOT NULL REFERENCES controllers(id),
    door          TEXT NOT NULL,
    PRIMARY KEY (controller_id, door)
);

-- Bearer tokens, stored as SHA-256 of the secret (the secret is shown once).
CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY,
    hash          BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    operator_id   INTEGER REFERENCES operators(id),
    controller_id INTEGER REFERENCES controllers(id),
    label         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    CHECK ((operator_id IS NULL) <> (controller_id IS NULL))
);
",
    // 3: what purge criteria look at, and purge jobs with their per-user plan and outcomes.
    r"
ALTER TABLE users ADD COLUMN record_type TEXT;
ALTER TABLE users ADD COLUMN user_group TEXT;
ALTER TABLE users ADD COLUMN balance INTEGER NOT NULL DEFAULT 0;            -- owed, in minor units (cents)
ALTER TABLE users ADD COLUMN unreturned_items INTEGER NOT NULL DEFAULT 0 CHECK (unreturned_items >= 0);
-- A purge plan reads only people with a purge date; erase searches only deleted people.
CREATE INDEX users_purge_date ON users(purge_date) WHERE purge_date IS NOT NULL AND state <> 'expunged';
CREATE INDEX users_deleted_at ON users(deleted_at) WHERE state = 'deleted';

CREATE TABLE purge_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,      -- never reused, even after pruning
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    today        TEXT NOT NULL,                          -- the date the plan was judged on
    criteria     TEXT NOT NULL,                          -- JSON, as given
    state        TEXT NOT NULL CHECK (state IN ('planned','running','completed')),
    selected     INTEGER NOT NULL,
    skipped      INTEGER NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,             -- selected users with an outcome
    expunged     INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER,
    completed_at INTEGER,
    CHECK ((state = 'completed') = (completed_at IS NOT NULL)),
    CHECK (done <= selected AND expunged <= done)
);
CREATE INDEX purge_jobs_open ON purge_jobs(id) WHERE state <> 'completed';

-- The plan (every person considered) and each one's outcome. Skipped at
-- planning: outcome 'skipped' at once. Selected: outcome NULL until the
-- job reaches them, then set in the same transaction as their expunge.
CREATE TABLE purge_job_users (
    job_id   INTEGER NOT NULL REFERENCES purge_jobs(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id),
    selected INTEGER NOT NULL CHECK (selected IN (0, 1)),
    outcome  TEXT CHECK (outcome IN ('expunged','skipped')),
    reasons  TEXT,                                       -- skip reasons, comma-separated codes
    done_at  INTEGER,
    PRIMARY KEY (job_id, user_id),
    CHECK (outcome IS NOT NULL OR selected = 1),
    CHECK ((outcome = 'skipped') = (reasons IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX purge_job_pending ON purge_job_users(job_id, user_id) WHERE outcome IS NULL;
",
    // 4: a durable mark that erased rows may survive in unused page space until a VACUUM.
    r"
-- secure_delete zeroes a deleted or overwritten cell, but SQLite's page
-- rebuilds (inserts, splits) can leave older copies of rows in a page's
-- unallocated gap. Every expunge sets this mark in its own transaction;
-- Store::scrub rebuilds the file (VACUUM), truncates the WAL, then clears it.
CREATE TABLE scrub (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    pending_since INTEGER
);
INSERT INTO scrub (id, pending_since) VALUES (1, NULL);
",
    // 5: one holder per card bytes across technologies; retired cards and
    // expunged people are final. Twins from before are kept (and listed by
    // `migrate`); doors deny them `credential_ambiguous` until an admin
    // unbinds one (close reason `twin_unbound`).
    r"
-- A new close reason needs a new CHECK: rebuild the table (nothing refers to it).
CREATE TABLE bindings_v5 (
    id            INTEGER PRIMARY KEY,
    credential_id INTEGER NOT NULL REFERENCES credentials(id),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    opened_at     INTEGER NOT NULL,
    opened_by     TEXT NOT NULL,
    closed_at     INTEGER,
    closed_by     TEXT,
    close_reason  TEXT CHECK (close_reason IN ('holder_expunged','twin_unbound')),
    CHECK ((closed_at IS NULL) = (close_reason IS NULL))
);
INSERT INTO bindings_v5 (id, credential_id, user_id, opened_at, opened_by, closed_at, closed_by, close_reason)
    SELECT id, credential_id, user_id, opened_at, opened_by, closed_at, closed_by, close_reason FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_v5 RENAME TO bindings;
CREATE UNIQUE INDEX bindings_one_open ON bindings(credential_id) WHERE closed_at IS NULL;
CREATE INDEX bindings_user ON bindings(user_id);
CREATE INDEX bindings_credential ON bindings(credential_id);

-- One holder per UID bytes, whatever the technology: no open binding for
-- someone else while another person holds the same bytes under another
-- technology. The writer checks first (and names the holder); this is the
-- last line of defence for any other path.
CREATE TRIGGER bindings_one_holder_per_uid BEFORE INSERT ON bindings
WHEN NEW.closed_at IS NULL AND EXISTS (
    SELECT 1 FROM credentials n
    JOIN credentials c ON c.technology IN ('iso14443a','em4100','other') AND c.uid = n.uid AND c.id <> n.id
    JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
    WHERE n.id = NEW.credential_id AND b.user_id <> NEW.user_id)
BEGIN SELECT RAISE(ABORT, 'credential_held: these UID bytes are held by another person under another technology'); END;
CREATE TRIGGER bindings_one_holder_per_uid_update BEFORE UPDATE OF credential_id, user_id, closed_at ON bindings
WHEN NEW.closed_at IS NULL AND EXISTS (
    SELECT 1 FROM credentials n
    JOIN credentials c ON c.technology IN ('iso14443a','em4100','other') AND c.uid = n.uid AND c.id <> n.id
    JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
    WHERE n.id = NEW.credential_id AND b.user_id <> NEW.user_id)
BEGIN SELECT RAISE(ABORT, 'credential_held: these UID bytes are held by another person under another technology'); END;
-- A credential's identity never changes (the rule above reads it).
CREATE TRIGGER credentials_identity_fixed BEFORE UPDATE OF technology, uid ON credentials
WHEN NEW.technology IS NOT OLD.technology OR NEW.uid IS NOT OLD.uid
BEGIN SELECT RAISE(ABORT, 'a credential''s technology and UID never change'); END;

-- Retired is final: a lost, stolen or destroyed card never changes state
-- (in particular never back to in_stock or issued).
CREATE TRIGGER credentials_retired_final BEFORE UPDATE OF state ON credentials
WHEN OLD.state IN ('lost','stolen','destroyed') AND NEW.state IS NOT OLD.state
BEGIN SELECT RAISE(ABORT, 'credential_retired: a retired credential never changes state'); END;

-- Expunged is final: the tombstone never changes state, ID or expunge
-- record, and never holds personal data again.
CREATE TRIGGER users_expunged_final BEFORE UPDATE ON users
WHEN OLD.state = 'expunged' AND (NEW.state IS NOT 'expunged' OR NEW.id IS NOT OLD.id
    OR NEW.expunged_at IS NOT OLD.expunged_at OR NEW.expunged_by IS NOT OLD.expunged_by
    OR NEW.given_name IS NOT NULL OR NEW.family_name IS NOT NULL OR NEW.family_fold IS NOT NULL
    OR NEW.email IS NOT NULL OR NEW.phone IS NOT NULL OR NEW.employee_no IS NOT NULL OR NEW.notes IS NOT NULL
    OR NEW.photo IS NOT NULL OR NEW.directory_id IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'already_expunged: an expunged user stays a tombstone'); END;

-- REPLACE deletes the conflicting row and inserts anew, which no UPDATE
-- trigger sees (and, without recursive triggers, no DELETE trigger): so
-- the rows these rules guard are never replaced.
CREATE TRIGGER credentials_never_replaced BEFORE INSERT ON credentials
WHEN EXISTS (SELECT 1 FROM credentials WHERE id = NEW.id OR (technology = NEW.technology AND uid = NEW.uid))
BEGIN SELECT RAISE(ABORT, 'a row is never replaced'); END;
CREATE TRIGGER users_never_replaced BEFORE INSERT ON users
WHEN EXISTS (SELECT 1 FROM users WHERE id = NEW.id OR (NEW.directory_id IS NOT NULL AND directory_id = NEW.directory_id))
BEGIN SELECT RAISE(ABORT, 'a row is never replaced'); END;
CREATE TRIGGER bindings_never_replaced BEFORE INSERT ON bindings
WHEN EXISTS (SELECT 1 FROM bindings WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'a row is never replaced'); END;
CREATE TRIGGER audit_never_replaced BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'a row is never replaced'); END;

-- Existing twins: a change-log entry for each, so controllers' next delta
-- carries them (now marked ambiguous) and running services re-read them.
INSERT INTO change_log (at, kind, user_id, technology, uid, credential_state)
    SELECT CAST(strftime('%s', 'now') AS INTEGER), 'credential', b.user_id, c.technology, c.uid, c.state
    FROM credentials c JOIN bindings b ON b.credential_id = c.id AND b.closed_at IS NULL
    WHERE c.uid IN (
        SELECT c2.uid FROM credentials c2 JOIN bindings b2 ON b2.credential_id = c2.id AND b2.closed_at IS NULL
        GROUP BY c2.uid HAVING COUNT(DISTINCT b2.user_id) > 1)
    ORDER BY c.id;
",
    // 6: the auth log — which tokens, operators and controllers changed, in
    // commit order, written by triggers so no path (this build's writes, the
    // CLI, an older tool, a hand edit) can change who a token belongs to
    // without a running service hearing of it.
    r"
CREATE TABLE auth_log (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id      INTEGER,
    operator_id   INTEGER,
    controller_id INTEGER,
    CHECK ((token_id IS NOT NULL) + (operator_id IS NOT NULL) + (controller_id IS NOT NULL) = 1)
);
CREATE TRIGGER auth_log_token_insert AFTER INSERT ON tokens
BEGIN INSERT INTO auth_log (token_id) VALUES (NEW.id); END;
CREATE TRIGGER auth_log_token_update AFTER UPDATE ON tokens
BEGIN INSERT INTO auth_log (token_id) VALUES (NEW.id); END;
CREATE TRIGGER auth_log_token_delete AFTER DELETE ON tokens
BEGIN INSERT INTO auth_log (token_id) VALUES (OLD.id); END;
CREATE TRIGGER auth_log_operator_insert AFTER INSERT ON operators
BEGIN INSERT INTO auth_log (operator_id) VALUES (NEW.id); END;
CREATE TRIGGER auth_log_operator_update AFTER UPDATE ON operators
BEGIN INSERT INTO auth_log (operator_id) VALUES (NEW.id); END;
CREATE TRIGGER auth_log_operator_delete AFTER DELETE ON operators
BEGIN INSERT INTO auth_log (operator_id) VALUES (OLD.id); END;
CREATE TRIGGER auth_log_controller_insert AFTER INSERT ON controllers
BEGIN INSERT INTO auth_log (controller_id) VALUES (NEW.id); END;
CREATE TRIGGER auth_log_controller_update AFTER UPDATE ON controllers
BEGIN INSERT INTO auth_log (controller_id) VALUES (NEW.id); END;
CREATE TRIGGER auth_log_controller_delete AFTER DELETE ON controllers
BEGIN INSERT INTO auth_log (controller_id) VALUES (OLD.id); END;
CREATE TRIGGER auth_log_doors_insert AFTER INSERT ON controller_doors
BEGIN INSERT INTO auth_log (controller_id) VALUES (NEW.controller_id); END;
CREATE TRIGGER auth_log_doors_delete AFTER DELETE ON controller_doors
BEGIN INSERT INTO auth_log (controller_id) VALUES (OLD.controller_id); END;
CREATE TRIGGER auth_log_doors_update AFTER UPDATE ON controller_doors
BEGIN
    INSERT INTO auth_log (controller_id) VALUES (OLD.controller_id);
    INSERT INTO auth_log (controller_id) VALUES (NEW.controller_id);
END;
",
    // 7: web UI sessions (issue 8/12). The cookie holds a random secret;
    // only its SHA-256 is stored. No personal data (an operator ID only), so
    // an expunge has nothing to scrub here. A trigger ends an operator's live
    // sessions for good when they are disabled (enabling does not bring them
    // back), change role or get a new password — whichever path made the
    // change (this build, the CLI, an older tool, a hand edit).
    r"
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    operator_id  INTEGER NOT NULL REFERENCES operators(id),
    role         TEXT NOT NULL,
    csrf         BLOB NOT NULL CHECK (length(csrf) = 32),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_secs    INTEGER NOT NULL CHECK (idle_secs > 0),
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    ended_why    TEXT CHECK (ended_why IN ('sign_out','revoked','operator_disabled','role_changed','password_changed')),
    CHECK ((ended_at IS NULL) = (ended_why IS NULL))
);
CREATE INDEX sessions_live_by_operator ON sessions (operator_id) WHERE ended_at IS NULL;
CREATE TRIGGER sessions_end_on_operator_change AFTER UPDATE OF disabled_at, role, password_hash ON operators
WHEN (NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL) OR NEW.role IS NOT OLD.role
     OR NEW.password_hash IS NOT OLD.password_hash
BEGIN
    UPDATE sessions SET ended_at = unixepoch(),
        ended_why = CASE WHEN NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL THEN 'operator_disabled'
                         WHEN NEW.role IS NOT OLD.role THEN 'role_changed' ELSE 'password_changed' END
    WHERE operator_id = NEW.id AND ended_at IS NULL;
END;
",
    // 8: who may open which door, when (issue 10/12): sites with an IANA
    // time zone, doors (the names controllers serve become door records),
    // areas, holiday calendars, schedules, access levels with their grants,
    // and assignments to people and groups. A default site ('Default',
    // UTC until `default_tz` sets it), a schedule 'Always' and a default
    // level 'All doors, always' that every person not expunged holds, so
    // every door still opens for them after the upgrade. The change log
    // learns the new kinds (rebuilt: SQLite cannot change a CHECK).
    r"
CREATE TABLE sites (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    tz         TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX sites_one_default ON sites(is_default) WHERE is_default = 1;

CREATE TABLE doors (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    site_id    INTEGER NOT NULL REFERENCES sites(id),
    created_at INTEGER NOT NULL
);

CREATE TABLE areas (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE area_doors (
    area_id INTEGER NOT NULL REFERENCES areas(id),
    door_id INTEGER NOT NULL REFERENCES doors(id),
    PRIMARY KEY (area_id, door_id)
);
CREATE INDEX area_doors_door ON area_doors(door_id);

CREATE TABLE holiday_calendars (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE holidays (
    calendar_id INTEGER NOT NULL REFERENCES holiday_calendars(id),
    date        TEXT NOT NULL,                       -- YYYY-MM-DD
    yearly      INTEGER NOT NULL CHECK (yearly IN (0, 1)),
    type        TEXT NOT NULL,
    PRIMARY KEY (calendar_id, date, yearly)
);

-- intervals: 'DAYS HH:MM-HH:MM' joined by ';'; holiday_rules: 'TYPE closed' or 'TYPE HH:MM-HH:MM,…' joined by ';'.
CREATE TABLE schedules (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    site_id       INTEGER NOT NULL REFERENCES sites(id),
    calendar_id   INTEGER REFERENCES holiday_calendars(id),
    intervals     TEXT NOT NULL,
    holiday_rules TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);

CREATE TABLE access_levels (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    org_unit   TEXT,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at INTEGER NOT NULL
);
-- A grant opens one door, every door of an area, or (both NULL) every door.
CREATE TABLE level_grants (
    level_id    INTEGER NOT NULL REFERENCES access_levels(id),
    position    INTEGER NOT NULL,
    door_id     INTEGER REFERENCES doors(id),
    area_id     INTEGER REFERENCES areas(id),
    schedule_id INTEGER NOT NULL REFERENCES schedules(id),
    PRIMARY KEY (level_id, position),
    CHECK (door_id IS NULL OR area_id IS NULL)
);
CREATE INDEX level_grants_door ON level_grants(door_id) WHERE door_id IS NOT NULL;
CREATE INDEX level_grants_area ON level_grants(area_id) WHERE area_id IS NOT NULL;
CREATE INDEX level_grants_schedule ON level_grants(schedule_id);

-- People's group names, interned: the change log and the index carry the ID.
CREATE TABLE user_groups (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
INSERT INTO user_groups (name) SELECT DISTINCT user_group FROM users WHERE user_group IS NOT NULL;

CREATE TABLE level_assignments (
    id         INTEGER PRIMARY KEY,
    level_id   INTEGER NOT NULL REFERENCES access_levels(id),
    user_id    INTEGER REFERENCES users(id),
    group_id   INTEGER REFERENCES user_groups(id),
    valid_from INTEGER,
    valid_to   INTEGER,
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX level_assignments_user ON level_assignments(user_id, level_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX level_assignments_group ON level_assignments(group_id, level_id) WHERE group_id IS NOT NULL;
CREATE INDEX level_assignments_level ON level_assignments(level_id);

INSERT INTO sites (id, name, tz, is_default, created_at) VALUES (1, 'Default', 'UTC', 1, unixepoch());
INSERT INTO doors (name, site_id, created_at) SELECT DISTINCT door, 1, unixepoch() FROM controller_doors ORDER BY door;
INSERT INTO schedules (id, name, site_id, intervals, created_at) VALUES (1, 'Always', 1, 'mon-sun 00:00-24:00', unixepoch());
INSERT INTO access_levels (id, name, is_default, created_at) VALUES (1, 'All doors, always', 1, unixepoch());
INSERT INTO level_grants (level_id, position, schedule_id) VALUES (1, 0, 1);
INSERT INTO level_assignments (level_id, user_id, created_at)
    SELECT 1, id, unixepoch() FROM users WHERE state <> 'expunged' ORDER BY id;

-- A door a controller names is a door record (of the default site when new),
-- whichever path adds the controller's door.
CREATE TRIGGER controller_doors_are_doors AFTER INSERT ON controller_doors
BEGIN
    INSERT OR IGNORE INTO doors (name, site_id, created_at)
        VALUES (NEW.door, (SELECT id FROM sites WHERE is_default = 1), unixepoch());
END;

CREATE TABLE change_log_v8 (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    at               INTEGER NOT NULL,
    kind             TEXT NOT NULL
                     CHECK (kind IN ('user','credential','group','assignment','unassignment','rules')),
    user_id          INTEGER NOT NULL,  -- the user, or the credential's holder (0: none)
    user_state       TEXT,
    valid_from       INTEGER,
    valid_to         INTEGER,
    technology       TEXT,
    uid              BLOB,
    credential_state TEXT,
    level_id         INTEGER,
    group_id         INTEGER
);
INSERT INTO change_log_v8 (seq, at, kind, user_id, user_state, valid_from, valid_to, technology, uid, credential_state)
    SELECT seq, at, kind, user_id, user_state, valid_from, valid_to, technology, uid, credential_state FROM change_log;
DROP TABLE change_log;
ALTER TABLE change_log_v8 RENAME TO change_log;
-- The rules arrived: a position every cursor from before lies under.
INSERT INTO change_log (at, kind, user_id, user_state) VALUES (unixepoch(), 'rules', 0, 'reach');
",
    // 9: people from the directory (issue 17): who holds a suspension, where a person's directory link came
    // from and whether the directory has let them go, the SCIM user name, directory groups, and the
    // directory's runs with their reports, and access levels held through a directory group. Three CHECKs
    // are loosened by `widen_checks` (SQLite cannot alter a CHECK; loosening it in the stored schema is the
    // documented way): the `provisioner` role, an assignment's third kind of holder, and the change log's
    // membership entries.
    r"
ALTER TABLE users ADD COLUMN suspended_by_staff INTEGER NOT NULL DEFAULT 0 CHECK (suspended_by_staff IN (0, 1));
ALTER TABLE users ADD COLUMN suspended_by_directory INTEGER NOT NULL DEFAULT 0
    CHECK (suspended_by_directory IN (0, 1));
UPDATE users SET suspended_by_staff = 1 WHERE state = 'suspended' OR state_before_delete = 'suspended';
-- Where the link came from: typed by staff, a SCIM client, the LDAP import, a CSV import.
ALTER TABLE users ADD COLUMN directory_source TEXT CHECK (directory_source IN ('staff','scim','ldap','csv'));
UPDATE users SET directory_source = 'staff' WHERE directory_id IS NOT NULL;
-- The directory deleted them: the link stays (they are not created again) but they are no longer managed by it.
ALTER TABLE users ADD COLUMN directory_gone_at INTEGER;
-- The LDAP entry vanished (suspended, and deleted after the configured days).
ALTER TABLE users ADD COLUMN directory_vanished_at INTEGER;
-- SCIM userName (personal data: erased on expunge).
ALTER TABLE users ADD COLUMN user_name TEXT;
CREATE UNIQUE INDEX users_user_name ON users(user_name COLLATE NOCASE) WHERE user_name IS NOT NULL;
-- Every change to a row bumps its revision (SCIM's ETag), whatever path made it.
ALTER TABLE users ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER users_revision AFTER UPDATE ON users WHEN NEW.revision = OLD.revision
BEGIN UPDATE users SET revision = OLD.revision + 1 WHERE id = NEW.id; END;

CREATE TRIGGER users_suspension_held BEFORE UPDATE OF state, suspended_by_staff, suspended_by_directory ON users
WHEN OLD.state <> 'expunged' AND ((NEW.state = 'suspended' AND NEW.suspended_by_staff = 0
        AND NEW.suspended_by_directory = 0)
    OR (NEW.state = 'active' AND (NEW.suspended_by_staff = 1 OR NEW.suspended_by_directory = 1)))
BEGIN SELECT RAISE(ABORT, 'suspension_holders: a suspended person has a holder, an active one none'); END;
CREATE TRIGGER users_expunged_no_directory_data BEFORE UPDATE ON users
WHEN NEW.state = 'expunged' AND (NEW.user_name IS NOT NULL OR NEW.directory_source IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'already_expunged: an expunged user stays a tombstone'); END;

-- Directory groups: a set per person (from SCIM Groups or the directory's memberOf), apart from `user_group`.
CREATE TABLE directory_groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: audit entries and the change log name groups by ID
    display_name TEXT NOT NULL,
    external_id  TEXT,
    source       TEXT NOT NULL CHECK (source IN ('scim','ldap','csv')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    revision     INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX directory_groups_name ON directory_groups(display_name COLLATE NOCASE);
CREATE UNIQUE INDEX directory_groups_external ON directory_groups(external_id) WHERE external_id IS NOT NULL;
CREATE TABLE directory_group_members (
    group_id INTEGER NOT NULL REFERENCES directory_groups(id),
    user_id  INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX directory_group_members_user ON directory_group_members(user_id);
-- Expunge blanks the groups a person's membership entries name: found without a scan of the whole log.
CREATE INDEX change_log_memberships ON change_log(user_id) WHERE kind IN ('member_in', 'member_out');

-- Each directory sync or import: its counts, and one item per person it touched or refused (IDs and codes, no
-- personal data). Kept a year.
CREATE TABLE directory_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL CHECK (source IN ('ldap','csv')),
    trigger     TEXT NOT NULL,
    dry_run     INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    suspended   INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    resumed     INTEGER NOT NULL,
    skipped     INTEGER NOT NULL,
    refused     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    marker      TEXT
);
CREATE INDEX directory_runs_started ON directory_runs(started_at);
CREATE TABLE directory_run_items (
    run_id  INTEGER NOT NULL REFERENCES directory_runs(id),
    pos     INTEGER NOT NULL,
    user_id INTEGER,
    line    INTEGER,
    col     TEXT,
    action  TEXT NOT NULL,
    code    TEXT,
    PRIMARY KEY (run_id, pos)
) WITHOUT ROWID;

-- A level held by everyone in a directory group (`widen_checks` lets a row name this holder alone).
ALTER TABLE level_assignments ADD COLUMN directory_group_id INTEGER REFERENCES directory_groups(id);
CREATE UNIQUE INDEX level_assignments_directory_group ON level_assignments(directory_group_id, level_id)
    WHERE directory_group_id IS NOT NULL;
",
];

/// The schema version this build writes.
#[must_use]
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to [`latest`] in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > latest() {
        return Err(StoreError::SchemaTooNew { found, known: latest() });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(sql)?;
        if i + 1 == WIDENED_CHECKS {
            widen_checks(&tx)?;
        }
        // PRAGMA takes no parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    if found > 0 && found < TWIN_RULE {
        warn_twins(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// The version whose CHECKs are loosened in the stored schema (migration 9).
pub const WIDENED_CHECKS: usize = 9;

/// The CHECKs migration 9 loosens: (table, as earlier migrations wrote it, as it is now).
const WIDENED: [(&str, &str, &str); 3] = [
    (
        "operators",
        "CHECK (role IN ('viewer','enroller','manager','eraser','admin'))",
        "CHECK (role IN ('viewer','enroller','manager','eraser','admin','provisioner'))",
    ),
    (
        "level_assignments",
        "CHECK ((user_id IS NULL) <> (group_id IS NULL))",
        "CHECK ((user_id IS NOT NULL) + (group_id IS NOT NULL) + (directory_group_id IS NOT NULL) = 1)",
    ),
    (
        "change_log",
        "CHECK (kind IN ('user','credential','group','assignment','unassignment','rules'))",
        "CHECK (kind IN ('user','credential','group','assignment','unassignment','rules','member_in','member_out'))",
    ),
];

/// Loosens the CHECKs of [`WIDENED`]: the `provisioner` role, a level
/// assignment to a directory group, the change log's membership entries.
/// SQLite cannot alter a CHECK, and these tables cannot be rebuilt while
/// other tables reference them with foreign keys on; loosening a CHECK in
/// the stored schema is the procedure SQLite documents for it (no row can
/// become invalid), with the schema cookie bumped so every connection
/// re-reads it.
fn widen_checks(tx: &Connection) -> Result<(), StoreError> {
    let cookie: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.execute_batch("PRAGMA writable_schema = ON")?;
    let mut changed = 0;
    for (table, old, new) in WIDENED {
        changed += tx.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3) WHERE type = 'table' AND name = ?1
             AND instr(sql, ?2) > 0",
            [table, old, new],
        )?;
    }
    tx.execute_batch(&format!("PRAGMA schema_version = {}; PRAGMA writable_schema = RESET;", cookie + 1))?;
    if changed != WIDENED.len() {
        return Err(StoreError::Corrupt("a CHECK migration 9 loosens is not the one an earlier migration made"));
    }
    Ok(())
}

/// The version that brought the one-holder-per-UID rule (migration 5).
pub const TWIN_RULE: i64 = 5;

/// A database from before [`TWIN_RULE`] may hold the same UID bytes bound
/// to different people under different technologies: lists them in the
/// log (technologies, UIDs, states, holder IDs — nothing personal), so an
/// admin resolves each with `idms card unbind`.
fn warn_twins(conn: &Connection) -> Result<(), StoreError> {
    let twins = super::credentials::twins_in(conn)?;
    if !twins.is_empty() {
        tracing::warn!(
            count = twins.len(),
            "the database holds twins: the same UID bytes bound to different people under different technologies; \
             doors deny them credential_ambiguous until an admin resolves each with `idms card unbind UID --tech T` \
             (`idms card twins` lists them)"
        );
    }
    for t in &twins {
        tracing::warn!(
            credential = %format_args!("{}:{}", t.technology, t.uid),
            state = %t.state,
            holder = %t.holder,
            holder_state = %t.holder_state,
            "twin credential"
        );
    }
    Ok(())
}

/// The database's schema version.
pub fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}
