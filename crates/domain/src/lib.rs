//! The rules of the customer-service manual, as pure Rust.
//!
//! Nothing in this crate performs I/O, knows SQL or knows HTTP: values are parsed at the
//! edge into the types defined here, and the decisions the manual prescribes are made here.

pub mod auth;
