//! One integration-test binary (link time dominates on two cores). Every test runs
//! against a real server on a loopback port and a real database: SQLite by default,
//! PostgreSQL when `HUIQIAN_TEST_BACKEND=postgres` (the test command runs both).

mod harness;

mod audit;
mod auth;
mod backup;
mod bench_keys;
mod bench_sheets;
mod cli;
mod copy;
mod crawl;
mod demo;
mod drill;
mod exports;
mod faults;
mod followups;
mod import;
mod instances;
mod key_pages;
mod keys;
mod logs;
mod manual;
mod matrix;
mod notices;
mod openapi;
mod org;
mod pages;
mod people;
mod process;
mod query_fuzz;
mod reports;
mod request_pages;
mod requests;
mod schema_parity;
mod security;
mod sheet_pages;
mod sheets;
mod soak;
mod storage;
mod workload;
mod zones;
