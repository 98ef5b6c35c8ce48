//! A standalone fake Okta tenant: the `fake-okta` command of the `okta-fake` crate, runnable from
//! this package (`cargo run --release --example fake-okta -- --help`).
//!
//! ```text
//! cargo run --release --example fake-okta -- --users 100000 --groups 2000 --port 8080 --token T
//! curl -H 'Authorization: SSWS T' 'http://127.0.0.1:8080/api/v1/users?search=status%20pr&limit=200'
//! ```

fn main() {
    okta_fake::cli::main();
}
