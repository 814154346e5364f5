//! `nexusd`: runs any set of NEXUS apps in one process.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    nexusd::commands::run(nexusd::cli::Cli::parse())
}
