//! `idms`: the badge-office command line and (from issue 2/5) the service.
//!
//! Wiring only: argument parsing, config, output. Business rules live in
//! the library (`domain/`, `store/`).

mod cli;

/// mimalloc: the door path allocates on one thread and frees on another
/// (the event writer); glibc malloc spent a sixth of the service's CPU there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
