//! `nexusctl`: provision, run, inspect and control NEXUS.

mod admin_client;
mod cli;
mod daemons;
mod provision;
mod state;
mod status;
mod supervisor;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nexusctl: {e:#}");
            ExitCode::from(e.downcast_ref::<cli::Exit>().map_or(1, |x| x.0))
        }
    }
}
