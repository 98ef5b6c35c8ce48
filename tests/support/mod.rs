//! Dev-only test kit shared by integration tests, examples and benchmarks (included with
//! `#[path = "../tests/support/mod.rs"] mod support;` so none of it is linked into the shipped binary).
#![allow(dead_code, unused_imports)]

pub mod connector;
pub mod fake_intake;
pub mod fake_okta;
pub mod http;
pub mod ocsf;
pub mod proxy;
