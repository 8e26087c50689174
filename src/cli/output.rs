//! Human and JSON output, and how refusals are printed.

use std::io::Write;

use idms::store::StoreError;

/// A plain text table with a header row; columns padded to fit.
pub struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&'static str]) -> Self {
        Self { head: head.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let mut widths: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = std::io::stdout().lock();
        let line = |cells: Vec<&str>, out: &mut std::io::StdoutLock<'_>| {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  "));
                }
            }
            let _ = writeln!(out, "{}", s.trim_end());
        };
        line(self.head.clone(), &mut out);
        for r in &self.rows {
            line(r.iter().map(String::as_str).collect(), &mut out);
        }
    }
}

/// Prints `label: value` pairs aligned.
pub fn pairs(items: &[(&str, String)]) {
    let w = items.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (k, v) in items {
        let _ = writeln!(out, "{k:<w$}  {v}");
    }
}

pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One value as a single line (JSON Lines, for streams of events).
pub fn json_line<T: serde::Serialize>(v: &T) {
    match serde_json::to_string(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error[internal]: cannot encode output: {e}"),
    }
}

/// Prints a list as pretty JSON in its API shape: each item through its
/// DTO (`api::dto`), as `idms serve` would answer it.
pub fn json_as<D: serde::Serialize + From<T>, T: Clone>(v: &[T]) {
    json(&v.iter().cloned().map(D::from).collect::<Vec<D>>());
}

pub fn json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error[internal]: cannot encode output: {e}"),
    }
}

/// How a failure is shown: `error[code]: message`, or JSON on stderr.
/// Refusals exit 1; failures of the store or the system exit 3.
pub fn failure(e: &StoreError, as_json: bool) -> std::process::ExitCode {
    if as_json {
        let body = serde_json::json!({ "code": e.code(), "message": e.to_string() });
        eprintln!("{body}");
    } else {
        eprintln!("error[{}]: {e}", e.code());
    }
    std::process::ExitCode::from(if e.is_refusal() { 1 } else { 3 })
}
