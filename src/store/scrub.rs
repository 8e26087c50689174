//! The scrub after expunges, in slices. `secure_delete` zeroes a deleted or
//! overwritten cell, but SQLite's page rebuilds (inserts, splits,
//! balancing) write a page's cells afresh and leave the bytes that were
//! there before in the gap between its cell pointer array and its cell
//! content: older copies of rows, an expunged person's among them. The
//! scrub zeroes every b-tree page's unused bytes — that gap and each
//! freeblock's body — through the `sqlite_dbpage` table (the bundled
//! SQLite is built with it, `.cargo/config.toml`), [`SLICE_PAGES`] pages a
//! transaction, so the writer lock and the disk are taken a slice at a time
//! and a purge job rests between slices as between its steps. Freelist
//! pages are zeroed past what they hold (`secure_delete` zeroes a page when
//! it frees it, but a tool's connection without it would not), and new
//! pages start zeroed.
//!
//! A slice changes only bytes no cell uses, so the b-tree's structure and
//! every row stay as they were; a page whose header does not hold together
//! is left alone. A scrub replaced `VACUUM`, which rewrote the whole file in
//! one transaction (2.6 s of the writer at a million people, and the doors'
//! fsyncs queued behind the burst).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, lock};

/// Pages one slice reads and may rewrite (1 MiB of 4 KiB pages).
pub const SLICE_PAGES: u32 = 256;

/// Zeroes a b-tree page's unused bytes in place: the gap between its cell
/// pointer array and its cell content area, and the body of each freeblock
/// (after its 4-byte link and size). `header_at` is where the page header
/// starts (100 on page 1, after the file header), `usable` the page's
/// usable size. Returns whether a byte changed. A page that is not a
/// b-tree page (overflow, freelist, or not a page SQLite would accept) is
/// left as it is, and so is one whose header or freeblock chain does not
/// hold together.
#[must_use]
pub fn zero_unused(page: &mut [u8], header_at: usize, usable: usize) -> bool {
    let be16 = |p: &[u8], at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?])))
    };
    let usable = usable.min(page.len());
    let header_len = match page.get(header_at) {
        Some(2 | 5) => 12,
        Some(10 | 13) => 8,
        _ => return false,
    };
    let (Some(first_free), Some(cells), Some(content)) =
        (be16(page, header_at + 1), be16(page, header_at + 3), be16(page, header_at + 5))
    else {
        return false;
    };
    let content = if content == 0 { 65_536 } else { content };
    let pointers_end = header_at + header_len + 2 * cells;
    if pointers_end > content || content > usable {
        return false;
    }
    // The freeblock chain: ascending, inside the content area, not overlapping.
    let mut spans = vec![(pointers_end, content)];
    let mut at = first_free;
    while at != 0 {
        let (Some(next), Some(size)) = (be16(page, at), be16(page, at + 2)) else { return false };
        if at < content
            || size < 4
            || at + size > usable
            || (next != 0 && next <= at + size)
            || spans.len() > usable / 4
        {
            return false;
        }
        spans.push((at + 4, at + size));
        at = next;
    }
    let mut changed = false;
    for (from, to) in spans {
        let span = &mut page[from..to];
        if span.iter().any(|b| *b != 0) {
            span.fill(0);
            changed = true;
        }
    }
    changed
}

/// The freelist's pages, each with how many of its bytes it uses (a trunk:
/// its link, count and leaf list; a leaf: none), read through `page`; `None`
/// when the chain does not hold together as SQLite requires — a page number
/// below 2 or past the file, a page listed twice, a trunk with more leaves
/// than fit, or a total other than the file header's — so that no page in
/// use is ever taken for a free one.
fn freelist(
    header: &[u8],
    page_count: u32,
    usable: usize,
    page: &dyn Fn(u32) -> Result<Option<Vec<u8>>, StoreError>,
) -> Result<Option<std::collections::HashMap<u32, usize>>, StoreError> {
    let be32 = |p: &[u8], at: usize| p.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(mut trunk), Some(total)) = (be32(header, 32), be32(header, 36)) else { return Ok(None) };
    let mut free = std::collections::HashMap::new();
    let valid = |n: u32| n >= 2 && n <= page_count;
    while trunk != 0 {
        if !valid(trunk) || free.contains_key(&trunk) || free.len() >= total as usize {
            return Ok(None);
        }
        let Some(t) = page(trunk)? else { return Ok(None) };
        let leaves = be32(&t, 4).unwrap_or(u32::MAX) as usize;
        if 8 + 4 * leaves > usable {
            return Ok(None);
        }
        free.insert(trunk, 8 + 4 * leaves);
        for i in 0..leaves {
            let leaf = be32(&t, 8 + 4 * i).unwrap_or(0);
            if !valid(leaf) || free.insert(leaf, 0).is_some() {
                return Ok(None);
            }
        }
        trunk = be32(&t, 0).unwrap_or(0);
    }
    Ok((free.len() == total as usize).then_some(free))
}

impl Store {
    /// Scrubs pages `from` to `to` (inclusive; at most [`SLICE_PAGES`]) in
    /// one write transaction; returns how many it rewrote.
    pub fn scrub_slice(&self, from: u32, to: u32) -> Result<u32, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let page = |pgno: u32| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(tx
                .prepare_cached("SELECT data FROM sqlite_dbpage WHERE pgno = ?1")?
                .query_row([pgno], |r| r.get::<_, Vec<u8>>(0))
                .optional()?)
        };
        // Page 1 holds the file header: the reserved bytes at the end of each page (offset 20) and the
        // freelist (32, 36).
        let header = page(1)?.unwrap_or_default();
        let usable = header.len() - usize::from(header.get(20).copied().unwrap_or(0)).min(header.len());
        let last = to.min(from.saturating_add(SLICE_PAGES - 1));
        // The freelist as it is in this transaction: its pages in this slice, each with the bytes past
        // what it holds (a trunk: past its leaf list; a leaf: all of it). A page freed by a connection
        // without secure_delete (a tool's) keeps its old content until then.
        let page_count: u32 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free = freelist(&header, page_count, usable, &page)?.unwrap_or_else(|| {
            tracing::warn!("the freelist does not hold together: the scrub leaves its pages alone");
            std::collections::HashMap::new()
        });
        let mut rewritten = 0;
        for pgno in from..=last {
            let Some(mut data) = page(pgno)? else {
                break;
            };
            let changed = match free.get(&pgno) {
                Some(&used) => {
                    let unused = &mut data[used.min(usable)..usable];
                    let dirty = unused.iter().any(|b| *b != 0);
                    unused.fill(0);
                    dirty
                }
                None => zero_unused(&mut data, if pgno == 1 { 100 } else { 0 }, usable),
            };
            if changed {
                tx.prepare_cached("UPDATE sqlite_dbpage SET data = ?2 WHERE pgno = ?1")?
                    .execute(params![pgno, data])?;
                rewritten += 1;
            }
        }
        tx.commit()?;
        Ok(rewritten)
    }

    /// Destroys what expunges may have left behind (see the module): when
    /// an expunge has marked the database (durably, in its own
    /// transaction), scrubs every page in slices, calling `rest` after each
    /// with how long the slice took and sleeping what it answers (outside
    /// the writer lock; `None` stops here, the mark left set for the next
    /// scrub); then truncates the WAL, and only then clears the mark —
    /// unless an expunge committed while the slices ran (its row's older
    /// copies may be on pages already scrubbed: the mark stays for the next
    /// round). A crash at any point leaves the mark set, and the next scrub
    /// redoes it. Returns `false` when it stopped or a reader's old snapshot
    /// kept the WAL from being truncated (the erasure is then pending, as
    /// for [`Store::retry_erasure`]).
    ///
    /// Where pages cannot be told apart by their first byte — a file with
    /// pointer-map pages (`auto_vacuum`), or of 2^24 pages or more (an
    /// overflow or freelist page's first byte is then a page number's) — or
    /// where this SQLite lacks `sqlite_dbpage`, it rebuilds the file with
    /// `VACUUM` instead (its temporary copy in memory), in one go.
    pub fn scrub_paced(
        &self,
        mut rest: impl FnMut(std::time::Duration) -> Option<std::time::Duration>,
    ) -> Result<bool, StoreError> {
        let (pending, pages, head, sliceable) = self.read(|c| {
            let auto_vacuum: i64 = c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let dbpage = c.prepare("SELECT data FROM sqlite_dbpage WHERE pgno = 1").is_ok();
            Ok((
                c.query_row("SELECT pending_since IS NOT NULL FROM scrub WHERE id = 1", [], |r| r.get::<_, bool>(0))?,
                pages,
                c.query_row("SELECT COALESCE(MAX(seq), 0) FROM change_log", [], |r| r.get::<_, i64>(0))?,
                dbpage && auto_vacuum == 0 && pages < 1 << 24,
            ))
        })?;
        if pending && sliceable {
            // Pages added later are new (zeroed) or taken from the freelist (zeroed when freed).
            let last = u32::try_from(pages).unwrap_or(u32::MAX);
            let mut from = 1;
            while from <= last {
                let started = std::time::Instant::now();
                self.scrub_slice(from, last)?;
                from = from.saturating_add(SLICE_PAGES);
                if from <= last {
                    match rest(started.elapsed()) {
                        Some(r) => std::thread::sleep(r),
                        None => return Ok(false),
                    }
                }
            }
        }
        let conn = lock(&self.writer);
        if pending && !sliceable {
            tracing::warn!("scrubbing by rebuilding the whole file (VACUUM): its pages cannot be scrubbed in slices");
            conn.execute_batch("PRAGMA temp_store = MEMORY; VACUUM; PRAGMA temp_store = DEFAULT;")?;
        }
        let done = super::checkpoint_locked(&conn, &self.erasure_pending)?;
        if pending && done {
            let cleared = conn.execute(
                "UPDATE scrub SET pending_since = NULL WHERE id = 1 AND NOT EXISTS
                   (SELECT 1 FROM change_log WHERE seq > ?1 AND kind = 'user' AND user_state = 'expunged')",
                [head],
            )?;
            if cleared > 0 {
                super::checkpoint_locked(&conn, &self.erasure_pending)?;
            }
        }
        Ok(done)
    }

    /// [`Store::scrub_paced`] without rests.
    pub fn scrub(&self) -> Result<bool, StoreError> {
        self.scrub_paced(|_| Some(std::time::Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A leaf table page of 512 bytes: two cells at the end, a freeblock between them, stale bytes in
    /// the gap.
    fn leaf() -> Vec<u8> {
        let mut p = vec![0u8; 512];
        p[0] = 13;
        p[1..3].copy_from_slice(&460u16.to_be_bytes()); // first freeblock
        p[3..5].copy_from_slice(&2u16.to_be_bytes()); // two cells
        p[5..7].copy_from_slice(&400u16.to_be_bytes()); // content starts at 400
        p[8..10].copy_from_slice(&400u16.to_be_bytes());
        p[10..12].copy_from_slice(&480u16.to_be_bytes());
        p[400..460].fill(0xC1); // cell 1
        p[460..462].copy_from_slice(&0u16.to_be_bytes()); // freeblock: no next
        p[462..464].copy_from_slice(&20u16.to_be_bytes()); // 20 bytes
        p[464..480].copy_from_slice(b"STALE-FREEBLOCK!");
        p[480..512].fill(0xC2); // cell 2
        p[100..120].copy_from_slice(b"STALE-COPY-IN-GAP-01");
        p
    }

    #[test]
    fn the_gap_and_freeblock_bodies_are_zeroed_and_nothing_a_cell_uses() {
        let mut p = leaf();
        assert!(zero_unused(&mut p, 0, 512));
        assert!(p[12..400].iter().all(|b| *b == 0), "the gap");
        assert!(p[464..480].iter().all(|b| *b == 0), "the freeblock's body");
        // The header, the pointers, the freeblock's link and size, and both cells are as they were.
        let want = leaf();
        assert_eq!(p[..12], want[..12]);
        assert_eq!(p[400..464], want[400..464]);
        assert_eq!(p[480..], want[480..]);
        // Nothing left to do.
        assert!(!zero_unused(&mut p, 0, 512));
    }

    /// A file of 10 pages whose freelist is trunk 4 (leaves 5, 6) then trunk 7 (leaf 8): 5 pages.
    fn chain(edit: impl Fn(&mut Vec<Vec<u8>>)) -> Option<std::collections::HashMap<u32, usize>> {
        let mut pages = vec![vec![0u8; 512]; 11];
        let put = |p: &mut Vec<u8>, at: usize, v: u32| p[at..at + 4].copy_from_slice(&v.to_be_bytes());
        put(&mut pages[1], 32, 4);
        put(&mut pages[1], 36, 5);
        put(&mut pages[4], 0, 7);
        put(&mut pages[4], 4, 2);
        put(&mut pages[4], 8, 5);
        put(&mut pages[4], 12, 6);
        put(&mut pages[7], 4, 1);
        put(&mut pages[7], 8, 8);
        edit(&mut pages);
        let header = pages[1].clone();
        freelist(&header, 10, 512, &|n| Ok(pages.get(n as usize).cloned())).unwrap()
    }

    #[test]
    fn the_freelist_is_taken_only_when_it_holds_together() {
        let set = |p: &mut Vec<Vec<u8>>, page: usize, at: usize, v: u32| {
            p[page][at..at + 4].copy_from_slice(&v.to_be_bytes())
        };
        let good = chain(|_| {}).unwrap();
        assert_eq!(good.len(), 5);
        assert_eq!((good[&4], good[&7], good[&5], good[&8]), (16, 12, 0, 0));
        assert_eq!(chain(|p| set(p, 4, 12, 1)), None, "page 1 as a leaf");
        assert_eq!(chain(|p| set(p, 4, 12, 11)), None, "a leaf past the file");
        assert_eq!(chain(|p| set(p, 4, 12, 5)), None, "a leaf listed twice");
        assert_eq!(chain(|p| set(p, 7, 8, 4)), None, "a trunk listed as a leaf");
        assert_eq!(chain(|p| set(p, 7, 0, 4)), None, "a cycle");
        assert_eq!(chain(|p| set(p, 1, 36, 6)), None, "a total other than the header's");
        assert_eq!(chain(|p| set(p, 4, 4, 200)), None, "more leaves than fit");
    }

    #[test]
    fn pages_that_are_not_b_tree_pages_or_do_not_hold_together_are_left_alone() {
        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut p = leaf();
            f(&mut p);
            let before = p.clone();
            assert!(!zero_unused(&mut p, 0, 512));
            assert_eq!(p, before);
        };
        bad(&|p| p[0] = 0); // an overflow or freelist page
        bad(&|p| p[0] = 7);
        bad(&|p| p[3..5].copy_from_slice(&300u16.to_be_bytes())); // more pointers than room
        bad(&|p| p[5..7].copy_from_slice(&600u16.to_be_bytes())); // content past the page
        bad(&|p| p[1..3].copy_from_slice(&100u16.to_be_bytes())); // a freeblock in the gap
        bad(&|p| p[462..464].copy_from_slice(&60u16.to_be_bytes())); // a freeblock past the page
        bad(&|p| p[460..462].copy_from_slice(&470u16.to_be_bytes())); // overlapping the next
        bad(&|p| p[462..464].copy_from_slice(&2u16.to_be_bytes())); // smaller than its header
        // Page 1's header comes after the 100-byte file header.
        let mut one = vec![0u8; 612];
        one[100..].copy_from_slice(&leaf());
        one[0..16].copy_from_slice(b"SQLite format 3\0");
        assert!(!zero_unused(&mut one.clone(), 0, 612), "read at 0, page 1 is no b-tree page");
    }
}
