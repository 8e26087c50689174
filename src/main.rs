//! `idms`: the badge-office command line and (from issue 2/5) the service.
//!
//! Wiring only: argument parsing, config, output. Business rules live in
//! the library (`domain/`, `store/`).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
