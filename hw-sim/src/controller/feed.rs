//! The credential list a controller holds, kept in step with the feed:
//! a snapshot's pages are staged and replace the list only once the last
//! one (`more: false`) has arrived, so a cut mid-snapshot leaves the old
//! list; a delta's pages are staged too and applied (upsert `entries`,
//! delete `removed`) with the last page. The list and its cursor are saved
//! together, atomically (temporary file, fsync, rename, fsync of the
//! directory), so a restarted controller resumes from its cursor.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rule::{Entry, Held, List, Rules, WireRules, hex, intern, parse_uid};
use super::wire::{Kind, Page};

/// The file the list and its cursor are saved in.
pub const LIST_FILE: &str = "credentials.jsonl";

/// Pages received of a sequence not yet complete.
#[derive(Debug)]
struct Staging {
    kind: Kind,
    /// Where the sequence goes on (the last page's cursor).
    next: String,
    entries: Vec<Entry>,
    removed: Vec<(String, Vec<u8>)>,
    /// Page 0's rules, if it carried them.
    rules: Option<WireRules>,
    pages: u32,
}

/// What applying a page did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Staged; more pages follow.
    Staged,
    /// The last page: the list now reflects the sequence.
    Complete {
        /// Snapshot or delta.
        kind: Kind,
        /// Pages in the sequence.
        pages: u32,
    },
    /// A page that does not continue the staged sequence: staging dropped,
    /// ask again from the list's cursor.
    Restarted,
}

/// The held list, its cursor, and any staged pages.
#[derive(Debug)]
pub struct Feed {
    list: List,
    cursor: Option<String>,
    staging: Option<Staging>,
    file: Option<PathBuf>,
}

/// The first line of the saved list.
#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    cursor: Option<String>,
    count: usize,
    /// The door rules held (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules: Option<WireRules>,
}

/// The saved list's format: 2 since access levels (a list saved in
/// format 1 has no levels nor rules: started over, with a snapshot).
const SAVED_VERSION: u32 = 2;

/// One saved entry (short keys: a million of them are saved at once).
#[derive(Serialize, Deserialize)]
struct Saved<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow)]
    u: Cow<'a, str>,
    #[serde(borrow)]
    s: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    h: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    hs: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    f: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    a: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    l: Vec<Held>,
}

impl Feed {
    /// An empty list kept only in memory (benchmarks).
    #[must_use]
    pub fn in_memory() -> Self {
        Self { list: List::new(), cursor: None, staging: None, file: None }
    }

    /// The list saved in `dir`, or an empty one (then the first sync is a
    /// snapshot). A saved list that cannot be read is started over, never
    /// half used.
    ///
    /// # Errors
    /// `dir` cannot be created.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = dir.join(LIST_FILE);
        let (list, cursor) = load(&file).unwrap_or_default();
        Ok(Self { list, cursor, staging: None, file: Some(file) })
    }

    /// The list decisions are made from.
    #[must_use]
    pub fn list(&self) -> &List {
        &self.list
    }

    /// The cursor of the list held (`None`: nothing synced yet).
    #[must_use]
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The `since` to ask with next: where a staged sequence goes on, or
    /// the list's cursor.
    #[must_use]
    pub fn since(&self) -> Option<&str> {
        self.staging.as_ref().map(|s| s.next.as_str()).or(self.cursor.as_deref())
    }

    /// Pages staged of an incomplete sequence.
    #[must_use]
    pub fn staged_pages(&self) -> u32 {
        self.staging.as_ref().map_or(0, |s| s.pages)
    }

    /// Forgets staged pages (the next sync asks from the list's cursor).
    pub fn drop_staging(&mut self) {
        self.staging = None;
    }

    /// Applies one page (the answer to [`Feed::since`]).
    ///
    /// # Errors
    /// The completed list could not be saved (the list in memory is
    /// updated; the saved one is the previous, with its cursor).
    pub fn apply(&mut self, page: Page) -> std::io::Result<Applied> {
        if page.page == 0 {
            self.staging = Some(Staging {
                kind: page.kind,
                next: String::new(),
                entries: Vec::new(),
                removed: Vec::new(),
                rules: None,
                pages: 0,
            });
        }
        let Some(st) = self.staging.as_mut().filter(|s| s.kind == page.kind && s.pages == page.page) else {
            self.staging = None;
            return Ok(Applied::Restarted);
        };
        st.entries.extend(page.entries);
        st.removed.extend(page.removed);
        if page.page == 0 {
            st.rules = page.rules;
        }
        st.pages += 1;
        st.next = page.cursor;
        if page.more {
            return Ok(Applied::Staged);
        }
        let Some(st) = self.staging.take() else { return Ok(Applied::Restarted) };
        match st.kind {
            Kind::Snapshot => {
                let mut list: List = st.entries.into_iter().collect();
                for (t, u) in &st.removed {
                    list.remove(t, u);
                }
                // A snapshot without rules (none is sent without) keeps those held.
                list.set_rules(st.rules.map(Rules::new).or_else(|| self.list.rules().cloned()));
                // Freeing a million entries takes a while: not on the door's time.
                let old = std::mem::replace(&mut self.list, list);
                if old.len() > 10_000 {
                    let _ = std::thread::Builder::new().name("free-list".into()).spawn(move || drop(old));
                }
            }
            Kind::Delta => {
                for e in st.entries {
                    self.list.upsert(e);
                }
                for (t, u) in &st.removed {
                    self.list.remove(t, u);
                }
                if let Some(r) = st.rules {
                    self.list.set_rules(Some(Rules::new(r)));
                }
            }
        }
        self.cursor = Some(st.next);
        self.save()?;
        Ok(Applied::Complete { kind: st.kind, pages: st.pages })
    }

    /// Saves the list and cursor: a temporary file, fsynced, renamed over
    /// the old one, and the directory fsynced.
    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.file else { return Ok(()) };
        let tmp = path.with_extension("tmp");
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let header = Header {
            version: SAVED_VERSION,
            cursor: self.cursor.clone(),
            count: self.list.len(),
            rules: self.list.rules().map(|r| r.wire().clone()),
        };
        serde_json::to_writer(&mut w, &header)?;
        w.write_all(b"\n")?;
        for e in self.list.iter() {
            let s = Saved {
                t: Cow::Borrowed(&e.technology),
                u: Cow::Owned(hex(&e.uid)),
                s: Cow::Borrowed(&e.state),
                h: e.user_id.clone(),
                hs: e.holder_state.as_deref().map(Cow::Borrowed),
                f: e.valid_from,
                to: e.valid_to,
                a: e.ambiguous,
                l: e.levels.clone(),
            };
            serde_json::to_writer(&mut w, &s)?;
            w.write_all(b"\n")?;
        }
        let f = w.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_dir(path)
    }
}

/// Fsyncs the directory holding `path` (so a rename into it is durable).
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(d) => File::open(d)?.sync_all(),
        None => Ok(()),
    }
}

/// The saved list, if whole.
fn load(path: &Path) -> Option<(List, Option<String>)> {
    let mut lines = BufReader::new(File::open(path).ok()?).lines();
    let header: Header = serde_json::from_str(&lines.next()?.ok()?).ok()?;
    if header.version != SAVED_VERSION {
        return None;
    }
    let mut list = List::new();
    list.set_rules(header.rules.map(Rules::new));
    for line in lines {
        let line = line.ok()?;
        let s: Saved<'_> = serde_json::from_str(&line).ok()?;
        list.upsert(Entry {
            technology: intern(&s.t),
            uid: parse_uid(&s.u)?,
            state: intern(&s.s),
            user_id: s.h,
            holder_state: s.hs.as_deref().map(intern),
            valid_from: s.f,
            valid_to: s.to,
            ambiguous: s.a,
            levels: s.l,
        });
    }
    (list.len() == header.count).then_some((list, header.cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, state: &str) -> Entry {
        Entry {
            technology: "iso14443a".into(),
            uid: vec![4, 0, 0, n],
            state: intern(state),
            user_id: Some(format!("u{n}")),
            holder_state: Some("active".into()),
            valid_from: Some(100),
            valid_to: None,
            ambiguous: n == 9,
            levels: vec![(1, None, None)],
        }
    }

    fn page(kind: Kind, page: u32, more: bool, cursor: &str, entries: Vec<Entry>) -> Page {
        Page { kind, page, more, cursor: cursor.into(), entries, removed: Vec::new(), rules: None }
    }

    #[test]
    fn a_snapshot_replaces_the_list_only_with_its_last_page() {
        let mut f = Feed::in_memory();
        f.apply(page(Kind::Snapshot, 0, false, "c1", vec![entry(1, "issued")])).unwrap();
        assert_eq!((f.list().len(), f.cursor()), (1, Some("c1")));
        assert_eq!(f.apply(page(Kind::Snapshot, 0, true, "p1", vec![entry(2, "issued")])).unwrap(), Applied::Staged);
        assert_eq!(f.apply(page(Kind::Snapshot, 1, true, "p2", vec![entry(3, "issued")])).unwrap(), Applied::Staged);
        // Half a snapshot: the old list, the old cursor; the next ask goes on.
        assert!(f.list().get("iso14443a", &[4, 0, 0, 1]).is_some() && f.list().len() == 1);
        assert_eq!((f.cursor(), f.since(), f.staged_pages()), (Some("c1"), Some("p2"), 2));
        let done = f.apply(page(Kind::Snapshot, 2, false, "c2", vec![])).unwrap();
        assert_eq!(done, Applied::Complete { kind: Kind::Snapshot, pages: 3 });
        assert_eq!((f.list().len(), f.cursor(), f.since()), (2, Some("c2"), Some("c2")));
        assert!(f.list().get("iso14443a", &[4, 0, 0, 1]).is_none());
    }

    #[test]
    fn a_page_out_of_sequence_restarts_from_the_lists_cursor() {
        let mut f = Feed::in_memory();
        f.apply(page(Kind::Snapshot, 0, false, "c1", vec![entry(1, "issued")])).unwrap();
        f.apply(page(Kind::Delta, 0, true, "p1", vec![entry(2, "issued")])).unwrap();
        assert_eq!(f.apply(page(Kind::Snapshot, 1, false, "x", vec![])).unwrap(), Applied::Restarted);
        assert_eq!((f.since(), f.list().len()), (Some("c1"), 1));
        assert_eq!(f.apply(page(Kind::Delta, 3, false, "x", vec![])).unwrap(), Applied::Restarted);
    }

    #[test]
    fn a_delta_upserts_and_removes() {
        let mut f = Feed::in_memory();
        f.apply(page(Kind::Snapshot, 0, false, "c1", vec![entry(1, "issued"), entry(2, "issued")])).unwrap();
        let mut d = page(Kind::Delta, 0, false, "c2", vec![entry(1, "lost"), entry(3, "issued")]);
        d.removed.push(("iso14443a".into(), vec![4, 0, 0, 2]));
        f.apply(d).unwrap();
        let l = f.list();
        assert_eq!(l.get("iso14443a", &[4, 0, 0, 1]).map(|e| &*e.state), Some("lost"));
        assert!(l.get("iso14443a", &[4, 0, 0, 2]).is_none() && l.len() == 2);
    }

    #[test]
    fn the_list_and_cursor_survive_a_restart_and_a_torn_save_is_started_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Feed::open(dir.path()).unwrap();
        assert_eq!(f.since(), None);
        f.apply(page(Kind::Snapshot, 0, false, "c1", vec![entry(1, "issued"), entry(9, "issued")])).unwrap();
        // Staged pages are not saved.
        f.apply(page(Kind::Delta, 0, true, "p1", vec![entry(1, "lost")])).unwrap();
        let again = Feed::open(dir.path()).unwrap();
        assert_eq!((again.cursor(), again.list()), (Some("c1"), f.list()));
        assert!(again.list().get("iso14443a", &[4, 0, 0, 9]).unwrap().ambiguous);
        // A file cut short (a lost line) is not used.
        let path = dir.path().join(LIST_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let cut = &text[..text.trim_end().rfind('\n').unwrap() + 1];
        std::fs::write(&path, cut).unwrap();
        let torn = Feed::open(dir.path()).unwrap();
        assert_eq!((torn.cursor(), torn.list().len()), (None, 0));
    }
}

/// The published test vectors (`docs/contract/vectors.json`), run through
/// this controller's feed handling and offline rule, as a vendor would run
/// them against firmware.
#[cfg(test)]
mod vectors {
    use super::*;
    use crate::controller::rule::decide;
    use crate::controller::wire::{parse_page, parse_rfc3339};

    #[test]
    fn the_reference_controller_passes_the_contracts_test_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/contract/vectors.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let mut feed = Feed::in_memory();
        let mut checked = 0;
        for step in v["steps"].as_array().unwrap() {
            for page in step["pages"].as_array().unwrap() {
                let p = parse_page(page.to_string().as_bytes()).unwrap();
                assert_ne!(feed.apply(p).unwrap(), Applied::Restarted, "{}", step["name"]);
            }
            for d in step["decisions"].as_array().unwrap() {
                let uid = parse_uid(d["uid"].as_str().unwrap()).unwrap();
                let at = parse_rfc3339(d["at"].as_str().unwrap()).unwrap();
                let got = decide(feed.list(), d["door"].as_str().unwrap(), d["technology"].as_str(), &uid, at);
                let want = &d["expect"];
                assert_eq!(
                    (if got.grant { "grant" } else { "deny" }, got.reason, got.user_id.as_deref()),
                    (want["decision"].as_str().unwrap(), want["reason"].as_str(), want["user_id"].as_str()),
                    "{}: {d}",
                    step["name"]
                );
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} decisions in the vectors");
    }
}
