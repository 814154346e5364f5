//! `nexusd` as a library: the app list and the commands, so tests run exactly what the
//! binary runs.

pub mod apps;
pub mod cli;
pub mod commands;
