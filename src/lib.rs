//! huiqian (会签): the customer-service desk of a residential property-management company.
//!
//! Layers, from the edge inwards: [`web`] (HTTP, HTML, JSON) and [`cli`] parse input into
//! domain types; [`app`] runs each use-case (permission check, load, domain decision,
//! persist and audit in one transaction); `huiqian_domain` holds the manual's rules;
//! [`store`] is the only code that knows SQL.

pub mod app;
pub mod cli;
pub mod config;
pub mod crypto;
#[cfg(feature = "demo")]
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod i18n;
pub mod ops;
pub mod store;
pub mod web;

pub use huiqian_domain as domain;
