//! The rule layer is the only way in: the front ends (`src/api/`,
//! `src/cli/`, `src/ui/`) authenticate, parse, call `idms::ops` and render. They
//! neither decide who may (role, scope, door checks) nor call the store's
//! operations that change or read people, cards, jobs, tokens or the audit
//! trail themselves. A new handler that does is caught here.

use std::path::{Path, PathBuf};

/// What only `src/ops/` (and the store below it) may write.
const RULES: &[&str] =
    &[".role >=", ".role <", "org_unit ==", "Forbidden {", "check_scope(", "may_see(", ".covers(", ".doors.iter("];

/// Store operations a front end reaches only through `idms::ops`.
const STORE_CALLS: &[&str] = &[
    ".create_user(",
    ".update_user(",
    ".lifecycle(",
    ".expunge(",
    ".enroll(",
    ".revoke(",
    ".suspend_credential(",
    ".resume_credential(",
    ".unbind_twin(",
    ".purge_plan(",
    ".create_purge_job(",
    ".purge_jobs(",
    ".purge_job(",
    ".erase_users(",
    ".set_purge_dates(",
    ".search_deleted(",
    ".search_users",
    ".search_all_users(",
    ".get_user(",
    ".get_credential(",
    ".list_credentials(",
    ".add_operator(",
    ".add_controller(",
    ".set_operator_enabled(",
    ".set_controller_enabled(",
    ".set_operator_password(",
    ".rotate_controller_token(",
    ".revoke_token",
    ".issue_token(",
    ".create_token(",
    ".audit_entries(",
    ".verify_audit",
    ".credential_feed(",
    ".stats()",
    ".twins()",
    "decide_with_holder(",
    ".decide(",
    ".purge_outcomes(",
    ".unfinished_purge_jobs(",
    ".user_ids_in_unit(",
    ".backup(",
    ".operators()",
    ".controllers()",
    "store.write(",
    "st.write(",
    "s.write(",
    ".audit_refusal(",
    ".open_session(",
    ".session_by_hash(",
    ".touch_session(",
    ".end_session(",
    ".live_sessions(",
];

/// Where a front end may do what it otherwise may not, and why.
const ALLOWED: &[(&str, &str)] = &[
    // Maps the refusal variant to its HTTP status; decides nothing.
    ("src/api/error.rs", "Forbidden {"),
    // Front ends audit the refusals they find while parsing (a bad ID, a
    // missing confirmation) before any operation could: that is reporting,
    // not deciding.
    ("src/cli/mod.rs", ".audit_refusal("),
    ("src/cli/purge.rs", ".audit_refusal("),
    ("src/api/mod.rs", ".audit_refusal("),
    ("src/api/mod.rs", ".audit_refusals("),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn front_ends_only_authenticate_parse_call_the_rule_layer_and_render() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for front in ["src/api", "src/cli", "src/ui"] {
        rust_files(&root.join(front), &mut files);
    }
    assert!(files.len() >= 15, "expected the API, CLI and UI sources under {}", root.display());
    assert!(files.iter().any(|f| f.ends_with("src/ui/session.rs")), "the UI's sources are read");
    let mut found = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            // Comment lines are skipped; code after a `//` inside a string
            // (a URL) is still read.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for pat in RULES.iter().chain(STORE_CALLS) {
                // `Store::expunge(&s, …)` is the same call as `s.expunge(…)`.
                let path_form = pat.strip_prefix('.').map(|p| format!("Store::{p}"));
                let hit = line.contains(pat) || path_form.is_some_and(|p| line.contains(&p));
                if hit && !ALLOWED.contains(&(rel.as_str(), *pat)) {
                    found.push(format!("{rel}:{}: `{pat}` in `{}`", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "front ends must go through idms::ops:\n{}", found.join("\n"));
}
