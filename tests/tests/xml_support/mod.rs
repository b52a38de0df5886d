//! Shared by the XML tests and the XML benchmark.

pub mod docs;
