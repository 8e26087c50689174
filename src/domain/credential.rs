//! Credentials: `(technology, uid)` identity, UID parsing, states and the
//! recycle rule.
//!
//! **The recycle rule:** a credential can be bound to a person only while it
//! is `in_stock`, and it gets there only when new or when its holder is
//! expunged. A card held by an active, suspended or deleted person is
//! `credential_held`; a lost, stolen or destroyed card is
//! `credential_retired`, forever.

use std::fmt;

use crate::domain::{DomainError, UserId, UserState};

/// The most bytes any UID may have.
pub const MAX_UID_LEN: usize = 16;

/// The card technology, which fixes the UID lengths allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Technology {
    /// ISO/IEC 14443-A (MIFARE, DESFire, …): 4, 7 or 10 bytes.
    Iso14443a,
    /// EM4100 125 kHz: 5 bytes.
    Em4100,
    /// Anything else: 1 to 16 bytes.
    Other,
}

impl Technology {
    /// Every technology, in lookup order.
    pub const ALL: [Self; 3] = [Self::Iso14443a, Self::Em4100, Self::Other];

    /// The stored and displayed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iso14443a => "iso14443a",
            Self::Em4100 => "em4100",
            Self::Other => "other",
        }
    }

    /// [`Technology::from_name`] of an optional input (absent stays
    /// `None`: a reader or a person that does not say).
    pub fn from_name_opt(s: Option<&str>) -> Result<Option<Self>, DomainError> {
        s.map(Self::from_name).transpose()
    }

    /// Parses a name (as stored, or typed by a person).
    pub fn from_name(s: &str) -> Result<Self, DomainError> {
        // Stored names first: the index build parses one per credential.
        match s {
            "iso14443a" => return Ok(Self::Iso14443a),
            "em4100" => return Ok(Self::Em4100),
            "other" => return Ok(Self::Other),
            _ => {}
        }
        match s.trim().to_ascii_lowercase().as_str() {
            "iso14443a" | "iso14443-a" | "14443a" => Ok(Self::Iso14443a),
            "em4100" | "em" => Ok(Self::Em4100),
            "other" => Ok(Self::Other),
            _ => Err(DomainError::InvalidInput {
                field: "technology",
                message: "expected iso14443a, em4100 or other".into(),
            }),
        }
    }

    /// Whether a UID of `len` bytes is possible for this technology.
    #[must_use]
    pub fn allows_len(self, len: usize) -> bool {
        match self {
            Self::Iso14443a => matches!(len, 4 | 7 | 10),
            Self::Em4100 => len == 5,
            Self::Other => (1..=MAX_UID_LEN).contains(&len),
        }
    }

    fn allowed_desc(self) -> &'static str {
        match self {
            Self::Iso14443a => "4, 7 or 10",
            Self::Em4100 => "5",
            Self::Other => "1 to 16",
        }
    }
}

impl fmt::Display for Technology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A credential UID: 1 to 16 bytes, shown as uppercase hex. `Copy`, no heap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid {
    len: u8,
    bytes: [u8; MAX_UID_LEN],
}

impl Uid {
    /// Parses hex input in any of the accepted spellings (`04:a1:b2:c3`,
    /// `04 A1 B2 C3`, `04-a1-b2-c3`, `04a1b2c3`) without technology rules:
    /// for look-ups, where an unknown UID is an answer, not an error.
    pub fn parse_any(input: &str) -> Result<Self, DomainError> {
        let mut digits = [0u8; 2 * MAX_UID_LEN];
        let mut n = 0usize;
        for c in input.trim().bytes() {
            if matches!(c, b':' | b' ' | b'-' | b'\t') {
                continue;
            }
            if !c.is_ascii_hexdigit() {
                return Err(DomainError::InvalidUid { reason: "it contains characters that are not hex digits" });
            }
            // Past the longest UID, keep counting so the error gives the real length.
            if let Some(d) = digits.get_mut(n) {
                *d = c;
            }
            n += 1;
        }
        if n == 0 {
            return Err(DomainError::InvalidUid { reason: "it is empty" });
        }
        if n % 2 == 1 {
            return Err(DomainError::UidOddDigits { digits: n });
        }
        if n > digits.len() {
            return Err(DomainError::UidWrongLength { technology: "any", allowed: "at most 16", got: n / 2 });
        }
        let mut bytes = [0u8; MAX_UID_LEN];
        hex::decode_to_slice(&digits[..n], &mut bytes[..n / 2])
            .map_err(|_| DomainError::InvalidUid { reason: "it contains characters that are not hex digits" })?;
        Ok(Self { len: (n / 2) as u8, bytes })
    }

    /// Parses a UID for enrolment: the spelling rules of [`Uid::parse_any`],
    /// the lengths the technology allows, and no random UIDs.
    pub fn parse_for(technology: Technology, input: &str) -> Result<Self, DomainError> {
        let uid = Self::parse_any(input)?;
        uid.check_for(technology)?;
        Ok(uid)
    }

    /// Checks the technology's length rule and refuses ISO 14443-A random UIDs.
    pub fn check_for(&self, technology: Technology) -> Result<(), DomainError> {
        self.check_len(technology)?;
        if self.is_random(technology) {
            return Err(DomainError::RandomUid { uid: self.to_string() });
        }
        Ok(())
    }

    /// Checks only the technology's length rule: a UID no card of the
    /// technology can have is a malformed question, not an unknown card.
    pub fn check_len(&self, technology: Technology) -> Result<(), DomainError> {
        if technology.allows_len(self.len()) {
            return Ok(());
        }
        Err(DomainError::UidWrongLength {
            technology: technology.as_str(),
            allowed: technology.allowed_desc(),
            got: self.len(),
        })
    }

    /// An ISO 14443-A single-size UID whose first byte is `08` is drawn
    /// anew on every activation (ISO 14443-3 "RID").
    #[must_use]
    pub fn is_random(&self, technology: Technology) -> bool {
        technology == Technology::Iso14443a && self.len() == 4 && self.bytes[0] == 0x08
    }

    /// Builds a UID from raw bytes (1 to 16).
    pub fn from_bytes(b: &[u8]) -> Result<Self, DomainError> {
        if b.is_empty() || b.len() > MAX_UID_LEN {
            return Err(DomainError::UidWrongLength { technology: "any", allowed: "1 to 16", got: b.len() });
        }
        let mut bytes = [0u8; MAX_UID_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Self { len: b.len() as u8, bytes })
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }

    /// How many bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true for a parsed UID; here for clippy's `len_without_is_empty`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uid({self})")
    }
}

impl serde::Serialize for Uid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A credential's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// No holder; may be issued (new, or released by its holder's expunge).
    InStock,
    /// Bound to a holder and usable.
    Issued,
    /// Bound to a holder, temporarily refused.
    Suspended,
    /// Retired: reported lost.
    Lost,
    /// Retired: reported stolen.
    Stolen,
    /// Retired: destroyed.
    Destroyed,
}

impl CredentialState {
    /// The stored and displayed name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InStock => "in_stock",
            Self::Issued => "issued",
            Self::Suspended => "suspended",
            Self::Lost => "lost",
            Self::Stolen => "stolen",
            Self::Destroyed => "destroyed",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "in_stock" => Self::InStock,
            "issued" => Self::Issued,
            "suspended" => Self::Suspended,
            "lost" => Self::Lost,
            "stolen" => Self::Stolen,
            "destroyed" => Self::Destroyed,
            _ => return None,
        })
    }

    /// Lost, stolen or destroyed: terminal, never granted, never recycled.
    #[must_use]
    pub fn is_retired(self) -> bool {
        matches!(self, Self::Lost | Self::Stolen | Self::Destroyed)
    }
}

impl fmt::Display for CredentialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a credential is retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetireReason {
    /// Reported lost.
    Lost,
    /// Reported stolen.
    Stolen,
    /// Destroyed.
    Destroyed,
}

impl RetireReason {
    /// Parses `lost`, `stolen` or `destroyed`.
    pub fn from_name(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "lost" => Ok(Self::Lost),
            "stolen" => Ok(Self::Stolen),
            "destroyed" => Ok(Self::Destroyed),
            _ => {
                Err(DomainError::InvalidInput { field: "reason", message: "expected lost, stolen or destroyed".into() })
            }
        }
    }

    /// The state this reason retires a credential to.
    #[must_use]
    pub fn state(self) -> CredentialState {
        match self {
            Self::Lost => CredentialState::Lost,
            Self::Stolen => CredentialState::Stolen,
            Self::Destroyed => CredentialState::Destroyed,
        }
    }
}

/// Card-level actions other than retirement.
pub fn credential_transition(
    uid: &Uid,
    state: CredentialState,
    to: CredentialState,
) -> Result<CredentialState, DomainError> {
    use CredentialState as C;
    if state.is_retired() {
        return Err(DomainError::CredentialRetired { uid: uid.to_string(), state });
    }
    match (state, to) {
        (C::Issued, C::Suspended) | (C::Suspended, C::Issued) => Ok(to),
        (_, r) if r.is_retired() => Ok(r),
        _ => Err(DomainError::InvalidInput {
            field: "state",
            message: format!("credential {uid} is {state} and cannot become {to}"),
        }),
    }
}

/// The recycle rule: may this credential be bound to a new holder?
///
/// `holder` is the user with the credential's open binding, if any.
pub fn check_bindable(
    uid: &Uid,
    state: CredentialState,
    holder: Option<(UserId, UserState)>,
) -> Result<(), DomainError> {
    if state.is_retired() {
        return Err(DomainError::CredentialRetired { uid: uid.to_string(), state });
    }
    if let Some((holder, holder_state)) = holder {
        return Err(DomainError::CredentialHeld { uid: uid.to_string(), holder, holder_state });
    }
    // Without an open binding the store keeps the state `in_stock`; anything
    // else would be a broken invariant, and the safe answer is to refuse.
    if state != CredentialState::InStock {
        return Err(DomainError::InvalidInput {
            field: "uid",
            message: format!("credential {uid} is {state} without a holder; it cannot be issued"),
        });
    }
    Ok(())
}

/// An open binding of some UID bytes: under which technology, held by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BytesHolder {
    /// The credential's technology.
    pub technology: Technology,
    /// The holder of its open binding.
    pub holder: UserId,
    /// The holder's lifecycle state.
    pub holder_state: UserState,
}

/// One holder per card, whatever the technology: binding `uid` under
/// `technology` to `user` is refused (`credential_held`, naming the holder)
/// while another person holds the same bytes under another technology. A
/// reader often cannot tell the technology, so two people holding the same
/// bytes would let one person's card open doors as the other. The same
/// person holding the bytes under two technologies is fine. `held` is every
/// open binding of these bytes (the credential's own technology is the
/// recycle rule's business: [`check_bindable`]).
pub fn check_one_holder(
    uid: &Uid,
    technology: Technology,
    user: UserId,
    held: &[BytesHolder],
) -> Result<(), DomainError> {
    match held.iter().find(|h| h.technology != technology && h.holder != user) {
        Some(h) => Err(DomainError::CredentialHeld {
            uid: format!("{uid} ({})", h.technology),
            holder: h.holder,
            holder_state: h.holder_state,
        }),
        None => Ok(()),
    }
}

/// Unbinding resolves a twin and nothing else: the credential
/// (`technology`, `uid`) must have a holder, and another person must hold
/// the same bytes under another technology. Otherwise `not_a_twin` — it is
/// no way around the recycle rule.
pub fn check_unbindable(uid: &Uid, technology: Technology, held: &[BytesHolder]) -> Result<UserId, DomainError> {
    let not_a_twin = || DomainError::NotATwin { uid: format!("{technology}:{uid}") };
    let own = held.iter().find(|h| h.technology == technology).ok_or_else(not_a_twin)?;
    // A twin is exactly what the one-holder rule would refuse today.
    match check_one_holder(uid, technology, own.holder, held) {
        Err(_) => Ok(own.holder),
        Ok(()) => Err(not_a_twin()),
    }
}

/// The state an unbound twin ends in: `destroyed` — retired for good, so it
/// never grants, is never recycled and cannot be bound again (the card
/// carrying these bytes may still be in its former holder's pocket). A
/// credential already retired keeps its state.
#[must_use]
pub fn unbound_state(state: CredentialState) -> CredentialState {
    if state.is_retired() { state } else { CredentialState::Destroyed }
}

/// Who may receive a credential: anyone not deleted or expunged.
pub fn check_can_receive(user: UserId, state: UserState) -> Result<(), DomainError> {
    match state {
        UserState::Active | UserState::Suspended => Ok(()),
        UserState::Deleted => Err(DomainError::CannotReceive { user, state }),
        UserState::Expunged => Err(DomainError::AlreadyExpunged { user }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_spellings_normalise() {
        for s in ["04:a1:b2:c3", "04 A1 B2 C3", "04a1b2c3", " 04-A1-b2-C3 "] {
            let u = Uid::parse_for(Technology::Iso14443a, s).unwrap();
            assert_eq!(u.to_string(), "04A1B2C3", "{s}");
        }
    }

    /// Must-be-true 6: each kind of bad UID has its own code.
    #[test]
    fn bad_uids_have_distinct_codes() {
        let cases = [
            ("04A1B2C", Technology::Iso14443a, "uid_odd_digits"),
            ("04A1B2CZ", Technology::Iso14443a, "invalid_uid"),
            ("", Technology::Iso14443a, "invalid_uid"),
            ("04A1B2C3D4", Technology::Iso14443a, "uid_wrong_length"),
            ("04A1B2C3", Technology::Em4100, "uid_wrong_length"),
            ("08A1B2C3", Technology::Iso14443a, "random_uid"),
            ("00112233445566778899AABBCCDDEEFF00", Technology::Other, "uid_wrong_length"),
        ];
        for (s, t, code) in cases {
            assert_eq!(Uid::parse_for(t, s).unwrap_err().code(), code, "{s} as {t}");
        }
    }

    #[test]
    fn lengths_per_technology() {
        use Technology::*;
        for (tech, ok) in [(Iso14443a, &[4usize, 7, 10][..]), (Em4100, &[5][..]), (Other, &[1, 16][..])] {
            for len in 1..=16 {
                let hex = "11".repeat(len);
                assert_eq!(Uid::parse_for(tech, &hex).is_ok(), ok.contains(&len) || (tech == Other), "{tech} {len}");
            }
            assert!(ok.iter().all(|&l| tech.allows_len(l)));
        }
        // 08 is random only for single-size ISO UIDs.
        assert!(Uid::parse_for(Iso14443a, "08112233445566").is_ok());
        assert!(Uid::parse_for(Em4100, "0811223344").is_ok());
    }

    #[test]
    fn recycle_rule() {
        let uid = Uid::parse_any("04A1B2C3").unwrap();
        let holder = UserId::from_i64(7);
        assert!(check_bindable(&uid, CredentialState::InStock, None).is_ok());
        for hs in [UserState::Active, UserState::Suspended, UserState::Deleted] {
            let e = check_bindable(&uid, CredentialState::Issued, Some((holder, hs))).unwrap_err();
            assert_eq!(e.code(), "credential_held");
            let msg = e.to_string();
            assert!(
                msg.contains(&holder.to_string()) && msg.contains(hs.as_str()) && msg.contains("expunged"),
                "{msg}"
            );
        }
        for st in [CredentialState::Lost, CredentialState::Stolen, CredentialState::Destroyed] {
            assert_eq!(check_bindable(&uid, st, None).unwrap_err().code(), "credential_retired");
            assert_eq!(
                check_bindable(&uid, st, Some((holder, UserState::Expunged))).unwrap_err().code(),
                "credential_retired"
            );
        }
    }

    #[test]
    fn one_holder_per_uid_bytes_across_technologies() {
        let uid = Uid::parse_any("04A1B2C3").unwrap();
        let (a, b) = (UserId::from_i64(7), UserId::from_i64(8));
        let held = [BytesHolder { technology: Technology::Iso14443a, holder: a, holder_state: UserState::Suspended }];
        let e = check_one_holder(&uid, Technology::Other, b, &held).unwrap_err();
        assert_eq!(e.code(), "credential_held");
        let msg = e.to_string();
        assert!(msg.contains(&a.to_string()) && msg.contains("suspended") && msg.contains("iso14443a"), "{msg}");
        // The same person under another technology, or the same technology (the recycle rule's case): not this rule.
        assert!(check_one_holder(&uid, Technology::Other, a, &held).is_ok());
        assert!(check_one_holder(&uid, Technology::Iso14443a, b, &held).is_ok());
    }

    #[test]
    fn only_a_twin_can_be_unbound() {
        use Technology::*;
        let uid = Uid::parse_any("04A1B2C3").unwrap();
        let (a, b) = (UserId::from_i64(7), UserId::from_i64(8));
        let h = |technology, holder| BytesHolder { technology, holder, holder_state: UserState::Active };
        let twin = [h(Iso14443a, a), h(Other, b)];
        assert_eq!(check_unbindable(&uid, Other, &twin).unwrap(), b);
        assert_eq!(check_unbindable(&uid, Iso14443a, &twin).unwrap(), a);
        for (held, t) in
            [(&[h(Iso14443a, a)][..], Iso14443a), (&[h(Iso14443a, a), h(Other, a)][..], Other), (&twin[..], Em4100)]
        {
            assert_eq!(check_unbindable(&uid, t, held).unwrap_err().code(), "not_a_twin", "{held:?} {t}");
        }
        assert_eq!(unbound_state(CredentialState::Issued), CredentialState::Destroyed);
        assert_eq!(unbound_state(CredentialState::Suspended), CredentialState::Destroyed);
        assert_eq!(unbound_state(CredentialState::Lost), CredentialState::Lost);
    }

    #[test]
    fn card_transitions() {
        use CredentialState as C;
        let uid = Uid::parse_any("04A1B2C3").unwrap();
        assert_eq!(credential_transition(&uid, C::Issued, C::Suspended).unwrap(), C::Suspended);
        assert_eq!(credential_transition(&uid, C::Suspended, C::Issued).unwrap(), C::Issued);
        assert_eq!(credential_transition(&uid, C::InStock, C::Lost).unwrap(), C::Lost);
        assert_eq!(credential_transition(&uid, C::Lost, C::Stolen).unwrap_err().code(), "credential_retired");
        assert_eq!(credential_transition(&uid, C::InStock, C::Suspended).unwrap_err().code(), "invalid_input");
    }
}
