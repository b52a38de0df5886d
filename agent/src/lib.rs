//! kyso — an open-source signing agent for PKCS#11 tokens.
//!
//! Dependencies point one way: [`formats`] build signatures on the [`signer::Signer`] trait;
//! [`token`] implements that trait over PKCS#11 and knows nothing of formats or HTTP;
//! [`prompt`] asks the user behind a trait; [`cli`] wires them to the command line.

// warp's combinator types for the API nest deeper than the default limit of 128 allows when
// their futures' `Unpin` is checked in optimised builds.
#![recursion_limit = "256"]

pub mod broker;
pub mod cli;
pub mod compat;
pub mod config;
pub mod demo;
pub mod desktop;
pub mod doctor;
pub mod error;
pub mod formats;
pub mod logging;
pub mod login;
pub mod paths;
pub mod prompt;
pub mod server;
pub mod signer;
pub mod tls;
pub mod token;
pub mod trust;

pub use error::{Coded, ErrorCode, ErrorReport};
