//! Times as the office reads them: in the office's time zone (the
//! `ui_time_zone` setting, an IANA name read from the system's time-zone
//! database; UTC by default), with the UTC value on hover and in the
//! `datetime` attribute: `<time datetime="…Z" title="… UTC">local</time>`.
//!
//! [`Shown`] is the one way a page shows an instant; a template writes
//! `{{ t }}` (the markup is made here from digits and the zone's
//! abbreviation only, so it is not escaped).

use std::sync::OnceLock;

use crate::domain::Timestamp;

/// The office's time zone: offsets from UTC by period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Its IANA name.
    pub name: String,
    /// Instants (Unix seconds) from which `kinds[i]` applies, ascending.
    starts: Vec<i64>,
    /// For each start: its kind.
    kind_at: Vec<usize>,
    /// Kinds: offset from UTC in seconds, and the abbreviation.
    kinds: Vec<(i32, String)>,
}

impl Zone {
    /// UTC.
    #[must_use]
    pub fn utc() -> Self {
        Self { name: "UTC".into(), starts: Vec::new(), kind_at: Vec::new(), kinds: vec![(0, "UTC".into())] }
    }

    /// The zone called `name` in the system's time-zone database
    /// (`/usr/share/zoneinfo`, or `$TZDIR`); `UTC` needs none.
    pub fn named(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("UTC") || name.is_empty() {
            return Ok(Self::utc());
        }
        let plausible = name
            .split('/')
            .all(|p| !p.is_empty() && p != ".." && p.chars().all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c)));
        if !plausible {
            return Err(format!("ui_time_zone `{name}` is not an IANA time-zone name such as Europe/Berlin"));
        }
        let dir = std::env::var_os("TZDIR").map_or_else(|| "/usr/share/zoneinfo".into(), std::path::PathBuf::from);
        let bytes = std::fs::read(dir.join(name))
            .map_err(|e| format!("ui_time_zone `{name}`: not in the time-zone database {}: {e}", dir.display()))?;
        Self::parse(name, &bytes).ok_or_else(|| format!("ui_time_zone `{name}`: not a TZif file"))
    }

    /// Reads a TZif file (version 2 or later: its 64-bit section).
    fn parse(name: &str, b: &[u8]) -> Option<Self> {
        let u32_at =
            |at: usize| -> Option<usize> { Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize) };
        let counts = |at: usize| -> Option<[usize; 6]> {
            if b.get(at..at + 4)? != b"TZif" {
                return None;
            }
            let mut c = [0; 6];
            for (i, v) in c.iter_mut().enumerate() {
                *v = u32_at(at + 20 + 4 * i)?;
            }
            Some(c)
        };
        let [isut, isstd, leap, time, typ, chars] = counts(0)?;
        if *b.get(4)? < b'2' {
            return None;
        }
        let v1 = time * 5 + typ * 6 + chars + leap * 8 + isstd + isut;
        let at = 44 + v1;
        let [_, _, _, time, typ, chars] = counts(at)?;
        let mut p = at + 44;
        let mut starts = Vec::with_capacity(time);
        for i in 0..time {
            starts.push(i64::from_be_bytes(b.get(p + 8 * i..p + 8 * i + 8)?.try_into().ok()?));
        }
        p += 8 * time;
        let kind_at: Vec<usize> = b.get(p..p + time)?.iter().map(|&k| usize::from(k)).collect();
        p += time;
        let (infos, abbrs) = (b.get(p..p + 6 * typ)?, b.get(p + 6 * typ..p + 6 * typ + chars)?);
        let mut kinds = Vec::with_capacity(typ);
        for i in infos.chunks(6) {
            let off = i32::from_be_bytes(i[..4].try_into().ok()?);
            let from = usize::from(i[5]);
            let end = abbrs.get(from..)?.iter().position(|&c| c == 0).map_or(abbrs.len(), |e| from + e);
            kinds.push((off, String::from_utf8_lossy(abbrs.get(from..end)?).into_owned()));
        }
        if kinds.is_empty() || kind_at.iter().any(|&k| k >= kinds.len()) {
            return None;
        }
        Some(Self { name: name.to_owned(), starts, kind_at, kinds })
    }

    /// The offset (seconds) and abbreviation at `t`. Past the file's last
    /// change the last offset holds.
    #[must_use]
    pub fn at(&self, t: i64) -> (i32, &str) {
        let k = match self.starts.partition_point(|&s| s <= t) {
            0 => 0,
            n => self.kind_at[n - 1],
        };
        let (off, abbr) = &self.kinds[k];
        (*off, abbr)
    }
}

static ZONE: OnceLock<Zone> = OnceLock::new();

/// Sets the office's time zone (once, when the service starts).
pub fn set_zone(z: Zone) {
    let _ = ZONE.set(z);
}

/// The office's time zone (UTC until set).
pub fn zone() -> &'static Zone {
    ZONE.get_or_init(Zone::utc)
}

/// An instant as a page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown(pub Timestamp);

impl Shown {
    /// `None` stays empty.
    #[must_use]
    pub fn opt(t: Option<Timestamp>) -> Option<Self> {
        t.map(Self)
    }

    /// `YYYY-MM-DD HH:MM` and the abbreviation, in `zone`.
    #[must_use]
    pub fn local_in(self, zone: &Zone) -> String {
        let (off, abbr) = zone.at(self.0.0);
        format!("{} {abbr}", civil(self.0.0 + i64::from(off), false))
    }
}

/// `YYYY-MM-DD HH:MM[:SS]` of Unix seconds read as a wall clock.
fn civil(t: i64, seconds: bool) -> String {
    match ::time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) if seconds => format!(
            "{} {:02}:{:02}:{:02}",
            crate::domain::time::format_date(d.date()),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Ok(d) => format!("{} {:02}:{:02}", crate::domain::time::format_date(d.date()), d.hour(), d.minute()),
        Err(_) => t.to_string(),
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            r#"<time datetime="{}" title="{} UTC">{}</time>"#,
            self.0.to_rfc3339(),
            civil(self.0.0, true),
            self.local_in(zone())
        )
    }
}

/// Markup made from digits and a zone abbreviation only.
impl askama::filters::HtmlSafe for Shown {}

/// An instant that may be missing, as a page shows it: the instant, or the
/// (fixed) words for none (`""`, `"never"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShownOr(pub Option<Shown>, pub &'static str);

impl ShownOr {
    /// `t`, or `none` when missing.
    #[must_use]
    pub fn new(t: Option<Timestamp>, none: &'static str) -> Self {
        Self(Shown::opt(t), none)
    }
}

impl std::fmt::Display for ShownOr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(s) => s.fmt(f),
            None => f.write_str(self.1),
        }
    }
}

/// A [`Shown`], or words the code fixes (never data).
impl askama::filters::HtmlSafe for ShownOr {}

/// A length of time in words, to the largest whole unit that fits: `3 s`,
/// `12 min`, `2 h`, `3 days`.
#[must_use]
pub fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// How a controller's clock (`skew_secs`: its clock minus the service's)
/// reads, in words: `in step` within 2 s, else `12 min ahead` or `3 s
/// behind`; `not measured` when unknown.
#[must_use]
pub fn skew_words(skew_secs: Option<i64>) -> String {
    match skew_secs {
        None => "not measured".into(),
        Some(s) if s.unsigned_abs() <= 2 => "in step".into(),
        Some(s) if s > 0 => format!("{} ahead", span(s.unsigned_abs())),
        Some(s) => format!("{} behind", span(s.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_skew_reads_in_words() {
        assert_eq!(skew_words(None), "not measured");
        assert_eq!(skew_words(Some(0)), "in step");
        assert_eq!(skew_words(Some(-2)), "in step");
        assert_eq!(skew_words(Some(2)), "in step");
        assert_eq!(skew_words(Some(-3)), "3 s behind");
        assert_eq!(skew_words(Some(720)), "12 min ahead");
        assert_eq!(skew_words(Some(7260)), "2 h ahead");
        assert_eq!(skew_words(Some(-3 * 86_400)), "3 days behind");
        assert_eq!(skew_words(Some(i64::MIN)), format!("{} days behind", i64::MIN.unsigned_abs() / 86_400));
    }

    #[test]
    fn a_zone_from_the_database_shifts_the_wall_clock_and_keeps_utc_on_hover() {
        let Ok(berlin) = Zone::named("Europe/Berlin") else {
            panic!("the system's time-zone database (tzdata) has Europe/Berlin");
        };
        // 2026-01-15 12:00 UTC is 13:00 CET; 2026-07-15 12:00 UTC is 14:00 CEST.
        assert_eq!(Shown(Timestamp(1_768_478_400)).local_in(&berlin), "2026-01-15 13:00 CET");
        assert_eq!(Shown(Timestamp(1_784_116_800)).local_in(&berlin), "2026-07-15 14:00 CEST");
        assert_eq!(Shown(Timestamp(1_768_478_400)).local_in(&Zone::utc()), "2026-01-15 12:00 UTC");
        let shown = Shown(Timestamp(1_768_478_400)).to_string();
        assert!(
            shown.starts_with(r#"<time datetime="2026-01-15T12:00:00Z" title="2026-01-15 12:00:00 UTC">"#),
            "{shown}"
        );
        assert!(Zone::named("../etc/passwd").is_err() && Zone::named("Mars/Olympus").is_err());
    }
}
