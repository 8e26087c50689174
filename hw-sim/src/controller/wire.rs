//! The door API's JSON, as the contract publishes it (unknown fields are
//! ignored), and RFC 3339 times without a date library.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::rule::{Entry, WireRules, days_from_civil, intern, parse_uid};

/// A feed entry on the wire (borrowed from the body where it can be: a
/// million of them arrive in a snapshot).
#[derive(Debug, Deserialize)]
struct WireEntry<'a> {
    #[serde(borrow)]
    technology: Cow<'a, str>,
    #[serde(borrow)]
    uid: Cow<'a, str>,
    #[serde(borrow)]
    state: Cow<'a, str>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default, borrow)]
    holder_state: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    valid_from: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    valid_to: Option<Cow<'a, str>>,
    #[serde(default)]
    ambiguous: Option<bool>,
    #[serde(default, borrow)]
    levels: Option<Vec<WireHeld<'a>>>,
}

/// An access level an entry's holder holds.
#[derive(Debug, Deserialize)]
struct WireHeld<'a> {
    id: i64,
    #[serde(default, borrow)]
    from: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    to: Option<Cow<'a, str>>,
}

/// A removed key on the wire.
#[derive(Debug, Deserialize)]
struct WireKey<'a> {
    #[serde(borrow)]
    technology: Cow<'a, str>,
    #[serde(borrow)]
    uid: Cow<'a, str>,
}

/// A feed page on the wire.
#[derive(Debug, Deserialize)]
struct WirePage<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    page: u32,
    more: bool,
    cursor: String,
    #[serde(default, borrow)]
    entries: Vec<WireEntry<'a>>,
    #[serde(default, borrow)]
    removed: Option<Vec<WireKey<'a>>>,
    #[serde(default)]
    rules: Option<WireRules>,
}

/// Snapshot or delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Everything: replaces the list once complete.
    Snapshot,
    /// What changed since the cursor.
    Delta,
}

/// A feed page, parsed.
#[derive(Debug, Clone)]
pub struct Page {
    /// Snapshot or delta.
    pub kind: Kind,
    /// 0 for the first page of a sequence.
    pub page: u32,
    /// More pages follow (ask with `cursor`).
    pub more: bool,
    /// The next `since`.
    pub cursor: String,
    /// Entries to upsert.
    pub entries: Vec<Entry>,
    /// Keys to delete: `(technology, uid bytes)`.
    pub removed: Vec<(String, Vec<u8>)>,
    /// The door rules, when the page carries them (replace those held).
    pub rules: Option<WireRules>,
}

/// Parses a feed page's JSON body.
///
/// # Errors
/// The body is not a feed page (what is wrong, never the data).
pub fn parse_page(body: &[u8]) -> Result<Page, String> {
    let w: WirePage = serde_json::from_slice(body).map_err(|e| format!("not a feed page: {e}"))?;
    let kind = match &*w.kind {
        "snapshot" => Kind::Snapshot,
        "delta" => Kind::Delta,
        _ => return Err("feed page: unknown kind".into()),
    };
    let time = |t: Option<Cow<'_, str>>, field: &str| match t {
        None => Ok(None),
        Some(t) => parse_rfc3339(&t).map(Some).ok_or_else(|| format!("feed entry: `{field}` is not RFC 3339")),
    };
    let uid = |u: &str| parse_uid(u).ok_or_else(|| "feed entry: `uid` is not hex".to_string());
    let entries = w
        .entries
        .into_iter()
        .map(|e| {
            Ok(Entry {
                uid: uid(&e.uid)?,
                technology: intern(&e.technology),
                state: intern(&e.state),
                user_id: e.user_id,
                holder_state: e.holder_state.as_deref().map(intern),
                valid_from: time(e.valid_from, "valid_from")?,
                valid_to: time(e.valid_to, "valid_to")?,
                ambiguous: e.ambiguous.unwrap_or(false),
                levels: e
                    .levels
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| Ok((l.id, time(l.from, "levels.from")?, time(l.to, "levels.to")?)))
                    .collect::<Result<_, String>>()?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let removed = w
        .removed
        .unwrap_or_default()
        .into_iter()
        .map(|k| Ok((k.technology.into_owned(), uid(&k.uid)?)))
        .collect::<Result<_, String>>()?;
    Ok(Page { kind, page: w.page, more: w.more, cursor: w.cursor, entries, removed, rules: w.rules })
}

/// An access event as uploaded (and as buffered on disk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per controller, never reused.
    pub event_id: String,
    /// When it was decided (RFC 3339, UTC).
    pub at: String,
    /// The door.
    pub door: String,
    /// The UID read, uppercase hex.
    pub uid: String,
    /// The technology, if the reader knew it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub technology: Option<String>,
    /// `grant` or `deny`.
    pub decision: String,
    /// The deny reason.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The holder, if known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_id: Option<String>,
}

/// The upload's answer.
#[derive(Debug, Default, Deserialize)]
pub struct UploadAnswer {
    /// Newly stored.
    #[serde(default)]
    pub accepted: u64,
    /// Already stored.
    #[serde(default)]
    pub duplicates: u64,
    /// A known ID with other content.
    #[serde(default)]
    pub conflicts: u64,
    /// Refused.
    #[serde(default)]
    pub rejected: u64,
    /// The controller's clock minus the service's, as the service measured it.
    #[serde(default)]
    pub skew_secs: Option<i64>,
    /// One per event, in order (absent from older services: a 200 settles all).
    #[serde(default)]
    pub results: Option<Vec<EventResult>>,
}

/// One event's fate.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventResult {
    /// `accepted`, `duplicate`, `conflict` or `rejected`.
    pub status: String,
    /// Why, for `rejected`.
    #[serde(default)]
    pub code: Option<String>,
    /// Kept in the service's quarantine (`false`: the quarantine is full).
    #[serde(default)]
    pub quarantined: Option<bool>,
}

impl EventResult {
    /// Settled: drop it from the buffer. Everything is, except a
    /// `rejected` or `conflict` the service could not quarantine.
    #[must_use]
    pub fn settles(&self) -> bool {
        !(matches!(self.status.as_str(), "rejected" | "conflict") && self.quarantined == Some(false))
    }
}

/// The online decision's answer.
#[derive(Debug, Deserialize)]
pub struct DecideAnswer {
    /// `grant` or `deny`.
    pub decision: String,
    /// The deny reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// The holder.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to unix seconds (a fraction
/// is dropped).
#[must_use]
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && o.as_bytes()[3] == b':' => {
            let sign = match o.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (o[1..3].parse::<i64>().ok()?, o[4..6].parse::<i64>().ok()?);
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
#[must_use]
pub fn format_rfc3339(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_reads_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00.123+01:00"), Some(1_767_225_600));
        assert_eq!(parse_rfc3339("2025-12-31T19:00:00-05:00"), Some(1_767_225_600));
        for t in [0, 951_782_400, 1_767_225_599, 4_102_444_800, -86_401] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "{t}");
        }
        assert_eq!(format_rfc3339(951_868_800), "2000-03-01T00:00:00Z");
        for bad in ["2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z", "x"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_page_parses_with_absent_optionals_and_unknown_fields() {
        let p = parse_page(
            br#"{"kind":"delta","page":2,"more":false,"cursor":"c","future":1,
            "entries":[{"technology":"iso14443a","uid":"04a1b2c3","state":"issued","user_id":"u",
              "holder_state":"active","valid_from":null,"valid_to":"2026-01-01T00:00:00Z","x":true}],
            "removed":[{"technology":"em4100","uid":"0102030405"}]}"#,
        )
        .unwrap();
        assert_eq!((p.kind, p.page, p.more, p.cursor.as_str()), (Kind::Delta, 2, false, "c"));
        assert_eq!(p.entries[0].uid, [4, 0xA1, 0xB2, 0xC3]);
        assert_eq!((p.entries[0].valid_to, p.entries[0].ambiguous), (Some(1_767_225_600), false));
        assert_eq!(p.removed, [("em4100".to_string(), vec![1, 2, 3, 4, 5])]);
        let bare = parse_page(br#"{"kind":"snapshot","page":0,"more":true,"cursor":"c","entries":[]}"#).unwrap();
        assert!(bare.removed.is_empty() && bare.more);
        assert!(parse_page(br#"{"kind":"full","page":0,"more":true,"cursor":"c"}"#).is_err());
        let bad_uid = br#"{"kind":"delta","page":0,"more":false,"cursor":"c","entries":[{"technology":"other","uid":"zz","state":"issued"}]}"#;
        assert!(parse_page(bad_uid).is_err());
    }

    #[test]
    fn only_unquarantined_refusals_stay_in_the_buffer() {
        let r = |status: &str, q: Option<bool>| EventResult { status: status.into(), code: None, quarantined: q };
        assert!(r("accepted", None).settles() && r("duplicate", None).settles());
        assert!(r("rejected", Some(true)).settles() && r("conflict", None).settles());
        assert!(!r("rejected", Some(false)).settles() && !r("conflict", Some(false)).settles());
    }
}
