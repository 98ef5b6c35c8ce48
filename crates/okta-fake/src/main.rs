//! `fake-okta`: a seeded fake Okta org on 127.0.0.1 until Ctrl-C (see `fake-okta --help`).

fn main() {
    okta_fake::cli::main();
}
