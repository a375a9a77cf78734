//! The test binary's one tracing subscriber (a process has one global default, and every
//! test file is a module of the same binary): `RUST_LOG`'s lines to the test's output.

use std::sync::OnceLock;

/// Installs the subscriber (once; later calls do nothing).
pub fn init() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init()
            .expect("the test binary's only subscriber");
    });
}
