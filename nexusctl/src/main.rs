//! `nexusctl`: provision, run, inspect and control NEXUS.

mod admin_client;
mod alerts;
mod backup;
mod cli;
mod control;
mod daemons;
mod dash;
mod jobs;
mod logs;
mod metrics;
mod provision;
mod release;
mod state;
mod status;
mod supervisor;
mod top;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<cli::Exit>() {
            // Our own failures carry their message as the outermost context.
            Some(exit) => {
                eprintln!("nexusctl: {e}");
                ExitCode::from(exit.0)
            }
            None => {
                eprintln!("nexusctl: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
