//! `PdSequence::judge` against a reference model of PROTOCOL.md's rules,
//! for any stream of sequence numbers (including ones above 3); then a CP
//! that follows `CpSequence` (advance, retry, reset) is never NAKed, gets a
//! replay exactly when it retries a non-zero number, and fresh otherwise.
#![no_main]

use firmware_protocol::codes::{CpSequence, PdSequence, SeqVerdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (raw, cp_moves) = data.split_at(data.len() / 2);

    // Model: 0 is always fresh (a reset); a repeat of the last accepted
    // number is a replay; its successor (1, 2, 3, 1, …) is fresh; else NAK.
    let mut pd = PdSequence::default();
    let mut last: Option<u8> = None;
    for &sqn in raw {
        let want = if sqn == 0 {
            SeqVerdict::Fresh
        } else if last == Some(sqn) {
            SeqVerdict::Replay
        } else if last.is_some_and(|l| sqn == if l >= 3 { 1 } else { l + 1 }) {
            SeqVerdict::Fresh
        } else {
            SeqVerdict::Nak
        };
        assert_eq!(pd.judge(sqn), want, "sqn {sqn} after {last:?}");
        if sqn > 3 {
            assert_eq!(want, SeqVerdict::Nak);
        }
        if want == SeqVerdict::Fresh {
            last = Some(sqn);
        }
    }

    // A well-behaved CP, starting from a reset, whatever state the PD is in.
    let mut cp = CpSequence::default();
    let mut sent_before = false;
    for &m in cp_moves {
        let sqn = cp.current();
        let verdict = pd.judge(sqn);
        let retry = sent_before;
        let want = if retry && sqn != 0 { SeqVerdict::Replay } else { SeqVerdict::Fresh };
        assert_eq!(verdict, want, "CP sent {sqn} (retry: {retry})");
        match m % 4 {
            0 => sent_before = true, // no reply came: retry the same number
            3 => {
                cp.reset();
                sent_before = false;
            }
            _ => {
                cp.advance();
                sent_before = false;
            }
        }
    }
});
