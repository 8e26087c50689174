//! The offline decision rule: what a door controller answers from its
//! credential list when the service cannot be asked. Pure and free of
//! dependencies, exactly as `docs/controllers.md` ("Deny reasons") states it,
//! so firmware can copy it line by line; access levels and schedules (10/12)
//! extend [`decide`] and nothing else.

use std::borrow::Cow;
use std::collections::HashMap;

/// One credential of the feed, as the controller keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `iso14443a`, `em4100`, `other` (or a technology a newer service adds).
    pub technology: Cow<'static, str>,
    /// The UID's bytes.
    pub uid: Vec<u8>,
    /// Credential state: `issued`, `in_stock`, `suspended`, `lost`, `stolen`, `destroyed`.
    pub state: Cow<'static, str>,
    /// The holder.
    pub user_id: Option<String>,
    /// The holder's state: `active`, `suspended`, `deleted`, `expunged`.
    pub holder_state: Option<Cow<'static, str>>,
    /// Start of the holder's validity window, unix seconds (inclusive).
    pub valid_from: Option<i64>,
    /// End of the holder's validity window, unix seconds (exclusive).
    pub valid_to: Option<i64>,
    /// These bytes are bound to different people under different technologies.
    pub ambiguous: bool,
}

/// A known value as a static string (no allocation per entry), anything
/// else as its own.
#[must_use]
pub fn intern(s: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 13] = [
        "iso14443a",
        "em4100",
        "other",
        "issued",
        "in_stock",
        "suspended",
        "lost",
        "stolen",
        "destroyed",
        "active",
        "deleted",
        "expunged",
        "archived",
    ];
    KNOWN.iter().find(|k| **k == s).map_or_else(|| Cow::Owned(s.to_string()), |k| Cow::Borrowed(*k))
}

/// The entries with one UID's bytes: almost always one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    One(Entry),
    Many(Vec<Entry>),
}

impl Slot {
    fn as_slice(&self) -> &[Entry] {
        match self {
            Self::One(e) => std::slice::from_ref(e),
            Self::Many(v) => v,
        }
    }
}

/// The credential list, keyed by `(technology, uid bytes)` and findable by
/// bytes alone (for readers that cannot tell the technology).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    by_uid: HashMap<Vec<u8>, Slot>,
    len: usize,
}

impl List {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces the entry for `(technology, uid)`.
    pub fn upsert(&mut self, e: Entry) {
        use std::collections::hash_map::Entry as Vacancy;
        let slot = match self.by_uid.entry(e.uid.clone()) {
            Vacancy::Vacant(v) => {
                v.insert(Slot::One(e));
                self.len += 1;
                return;
            }
            Vacancy::Occupied(o) => o.into_mut(),
        };
        let mut same = match std::mem::replace(slot, Slot::Many(Vec::new())) {
            Slot::One(x) => vec![x],
            Slot::Many(v) => v,
        };
        match same.iter_mut().find(|x| x.technology == e.technology) {
            Some(old) => *old = e,
            None => {
                same.push(e);
                same.sort_by(|a, b| tech_rank(&a.technology).cmp(&tech_rank(&b.technology)));
                self.len += 1;
            }
        }
        *slot = if same.len() == 1 { Slot::One(same.remove(0)) } else { Slot::Many(same) };
    }

    /// Removes the entry for `(technology, uid)`; whether there was one.
    pub fn remove(&mut self, technology: &str, uid: &[u8]) -> bool {
        let Some(slot) = self.by_uid.get_mut(uid) else { return false };
        let mut same = match std::mem::replace(slot, Slot::Many(Vec::new())) {
            Slot::One(x) => vec![x],
            Slot::Many(v) => v,
        };
        let before = same.len();
        same.retain(|x| x.technology != technology);
        let removed = same.len() < before;
        match same.len() {
            0 => {
                self.by_uid.remove(uid);
            }
            1 => *slot = Slot::One(same.remove(0)),
            _ => *slot = Slot::Many(same),
        }
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// The entry for `(technology, uid)`.
    #[must_use]
    pub fn get(&self, technology: &str, uid: &[u8]) -> Option<&Entry> {
        self.with_uid(uid).iter().find(|x| x.technology == technology)
    }

    /// Every entry with these bytes, in technology order (`iso14443a`,
    /// `em4100`, `other`, then any other by name).
    #[must_use]
    pub fn with_uid(&self, uid: &[u8]) -> &[Entry] {
        self.by_uid.get(uid).map_or(&[], Slot::as_slice)
    }

    /// Every entry (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.by_uid.values().flat_map(Slot::as_slice)
    }
}

impl FromIterator<Entry> for List {
    fn from_iter<I: IntoIterator<Item = Entry>>(it: I) -> Self {
        let it = it.into_iter();
        let mut l = Self { by_uid: HashMap::with_capacity(it.size_hint().0), len: 0 };
        for e in it {
            l.upsert(e);
        }
        l
    }
}

fn tech_rank(t: &str) -> (u8, &str) {
    match t {
        "iso14443a" => (0, ""),
        "em4100" => (1, ""),
        "other" => (2, ""),
        t => (3, t),
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Open the door.
    pub grant: bool,
    /// The deny reason's code (`None` on grant).
    pub reason: Option<&'static str>,
    /// The holder to log (`None` for an unknown or ambiguous card).
    pub user_id: Option<String>,
}

impl Decision {
    fn deny(reason: &'static str, user_id: Option<String>) -> Self {
        Self { grant: false, reason: Some(reason), user_id }
    }
}

/// The one entry's verdict: `Err(code)` for the first check that fails,
/// in the contract's order (after the ambiguity and lookup, which
/// [`decide`] does).
fn check(e: &Entry, now: i64) -> Result<(), &'static str> {
    match &*e.state {
        "issued" => {}
        "lost" => return Err("credential_lost"),
        "stolen" => return Err("credential_stolen"),
        "destroyed" => return Err("credential_destroyed"),
        "in_stock" => return Err("credential_in_stock"),
        "suspended" => return Err("credential_suspended"),
        // A state this controller does not know never grants.
        _ => return Err("unknown_credential"),
    }
    match e.holder_state.as_deref() {
        Some("active") => {}
        Some("deleted" | "expunged") => return Err("holder_deleted"),
        Some("suspended") => return Err("holder_suspended"),
        // Issued to nobody: treat as in stock.
        None => return Err("credential_in_stock"),
        // A holder state this controller does not know never grants.
        Some(_) => return Err("holder_suspended"),
    }
    if e.valid_from.is_some_and(|from| now < from) {
        return Err("not_yet_valid");
    }
    if e.valid_to.is_some_and(|to| now >= to) {
        return Err("expired");
    }
    Ok(())
}

/// Decides offline whether `uid` (read at `door`, by a reader that knows
/// its `technology` or not) opens now (`now`, unix seconds).
///
/// 1. Find the entry for `(technology, uid)`; without a technology, every
///    entry with these bytes. None: deny `unknown_credential`.
/// 2. An `ambiguous` entry: deny `credential_ambiguous`, no holder logged.
/// 3. `state` `lost`/`stolen`/`destroyed`: `credential_<state>`; 4.
///    `in_stock`: `credential_in_stock`; 5. `suspended`: `credential_suspended`.
/// 6. `holder_state` `deleted`/`expunged`: `holder_deleted`; `suspended`:
///    `holder_suspended`.
/// 7. `now < valid_from`: `not_yet_valid`; `now >= valid_to`: `expired`.
/// 8. Otherwise grant.
///
/// Without a technology and several entries with the bytes (one holder's
/// cards under several technologies): grant only if every one grants;
/// otherwise the first deny in technology order (`iso14443a`, `em4100`,
/// `other`). `door` is unused until access levels (10/12).
#[must_use]
pub fn decide(list: &List, _door: &str, technology: Option<&str>, uid: &[u8], now: i64) -> Decision {
    let found: &[Entry] = match technology {
        Some(t) => list.get(t, uid).map_or(&[], std::slice::from_ref),
        None => list.with_uid(uid),
    };
    let Some(first) = found.first() else { return Decision::deny("unknown_credential", None) };
    if found.iter().any(|e| e.ambiguous) {
        return Decision::deny("credential_ambiguous", None);
    }
    for e in found {
        if let Err(code) = check(e, now) {
            return Decision::deny(code, e.user_id.clone());
        }
    }
    Decision { grant: true, reason: None, user_id: first.user_id.clone() }
}

/// Parses a UID in hex: any case, colons, spaces or dashes between bytes;
/// 1 to 64 bytes.
#[must_use]
pub fn parse_uid(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|c| !matches!(c, b':' | b' ' | b'-')).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() > 128 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let hi = char::from(p[0]).to_digit(16)?;
            let lo = char::from(p[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// Bytes as uppercase hex.
#[must_use]
pub fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02X}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn entry(uid: &[u8]) -> Entry {
        Entry {
            technology: "iso14443a".into(),
            uid: uid.to_vec(),
            state: "issued".into(),
            user_id: Some("u1".into()),
            holder_state: Some("active".into()),
            valid_from: None,
            valid_to: None,
            ambiguous: false,
        }
    }

    fn one(e: Entry) -> List {
        std::iter::once(e).collect()
    }

    fn reason(l: &List, tech: Option<&str>, uid: &[u8], now: i64) -> Option<&'static str> {
        decide(l, "main", tech, uid, now).reason
    }

    const U: &[u8] = &[4, 0xA1, 0xB2, 0xC3];

    #[test]
    fn an_active_holders_issued_card_grants_with_its_holder() {
        let d = decide(&one(entry(U)), "main", Some("iso14443a"), U, NOW);
        assert_eq!(d, Decision { grant: true, reason: None, user_id: Some("u1".into()) });
    }

    #[test]
    fn every_credential_state_denies_with_its_own_reason() {
        for (state, code) in [
            ("lost", "credential_lost"),
            ("stolen", "credential_stolen"),
            ("destroyed", "credential_destroyed"),
            ("in_stock", "credential_in_stock"),
            ("suspended", "credential_suspended"),
            ("melted", "unknown_credential"),
        ] {
            // The credential's state wins over the holder's.
            let e = Entry { state: state.into(), holder_state: Some("deleted".into()), ..entry(U) };
            let d = decide(&one(e), "main", Some("iso14443a"), U, NOW);
            assert_eq!((d.grant, d.reason, d.user_id.as_deref()), (false, Some(code), Some("u1")), "{state}");
        }
    }

    #[test]
    fn every_holder_state_denies_with_its_own_reason() {
        for (state, code) in [
            (Some("deleted"), "holder_deleted"),
            (Some("expunged"), "holder_deleted"),
            (Some("suspended"), "holder_suspended"),
            (Some("archived"), "holder_suspended"),
            (None, "credential_in_stock"),
        ] {
            // The holder's state wins over the window.
            let e = Entry { holder_state: state.map(Into::into), valid_to: Some(NOW - 1), ..entry(U) };
            assert_eq!(reason(&one(e), Some("iso14443a"), U, NOW), Some(code), "{state:?}");
        }
    }

    #[test]
    fn the_window_includes_its_start_and_excludes_its_end() {
        let l = one(Entry { valid_from: Some(NOW), valid_to: Some(NOW + 10), ..entry(U) });
        assert_eq!(reason(&l, None, U, NOW - 1), Some("not_yet_valid"));
        assert_eq!(reason(&l, None, U, NOW), None);
        assert_eq!(reason(&l, None, U, NOW + 9), None);
        assert_eq!(reason(&l, None, U, NOW + 10), Some("expired"));
        // Before the start and after the end at once cannot be; before wins.
        let odd = one(Entry { valid_from: Some(NOW + 5), valid_to: Some(NOW), ..entry(U) });
        assert_eq!(reason(&odd, None, U, NOW + 1), Some("not_yet_valid"));
    }

    #[test]
    fn an_ambiguous_uid_denies_before_anything_else_and_names_no_holder() {
        let l = one(Entry { ambiguous: true, state: "lost".into(), ..entry(U) });
        for tech in [Some("iso14443a"), None] {
            let d = decide(&l, "main", tech, U, NOW);
            assert_eq!((d.grant, d.reason, d.user_id), (false, Some("credential_ambiguous"), None));
        }
    }

    #[test]
    fn an_unknown_uid_or_technology_is_unknown_credential() {
        let l = one(entry(U));
        assert_eq!(decide(&l, "main", None, &[1, 2, 3, 4], NOW).reason, Some("unknown_credential"));
        assert_eq!(decide(&l, "main", None, &[1, 2, 3, 4], NOW).user_id, None);
        assert_eq!(reason(&l, Some("em4100"), U, NOW), Some("unknown_credential"));
        assert_eq!(reason(&List::new(), None, U, NOW), Some("unknown_credential"));
    }

    #[test]
    fn without_a_technology_the_bytes_are_looked_up_across_technologies() {
        let other = Entry { technology: "other".into(), state: "lost".into(), ..entry(U) };
        let mut l = one(other.clone());
        // Only an `other` entry: found by bytes, not by another technology.
        assert_eq!(reason(&l, None, U, NOW), Some("credential_lost"));
        assert_eq!(reason(&l, Some("iso14443a"), U, NOW), Some("unknown_credential"));
        // Both: grant only if both grant; the first deny in technology order wins.
        l.upsert(entry(U));
        assert_eq!(reason(&l, Some("iso14443a"), U, NOW), None);
        assert_eq!(reason(&l, None, U, NOW), Some("credential_lost"));
        l.upsert(Entry { state: "suspended".into(), ..entry(U) });
        assert_eq!(reason(&l, None, U, NOW), Some("credential_suspended"));
        l.upsert(Entry { state: "issued".into(), ..other });
        l.upsert(entry(U));
        assert_eq!(reason(&l, None, U, NOW), None);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn the_list_upserts_and_removes_by_technology_and_bytes() {
        let mut l = List::new();
        l.upsert(entry(U));
        l.upsert(Entry { state: "lost".into(), ..entry(U) });
        assert_eq!((l.len(), l.get("iso14443a", U).map(|e| &*e.state)), (1, Some("lost")));
        assert!(!l.remove("em4100", U));
        assert!(l.remove("iso14443a", U));
        assert!(!l.remove("iso14443a", U));
        assert!(l.is_empty() && l.with_uid(U).is_empty());
    }

    #[test]
    fn uids_parse_in_any_case_with_separators() {
        assert_eq!(parse_uid("04:a1:B2 c3"), Some(U.to_vec()));
        assert_eq!(parse_uid("04-A1-B2-C3"), Some(U.to_vec()));
        assert_eq!(parse_uid("04A"), None);
        assert_eq!(parse_uid("zz"), None);
        assert_eq!(parse_uid(""), None);
        assert_eq!(hex(U), "04A1B2C3");
    }
}
