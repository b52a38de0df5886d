//! Compatibility listeners: kyso answering the wire protocols that portals already speak to
//! other vendors' signing plugins, so those pages work unchanged. Every operation goes through
//! the [`crate::broker::Broker`], so consent, certificate choice, PIN, confirmation and the
//! audit log are exactly those of kyso's own API.

pub mod vnpt;
