//! The test binary's one tracing subscriber (a process has one global default, and every
//! test file is a module of the same binary): `RUST_LOG`'s lines to the test's output, and
//! the info lines, formatted as the daemon writes them, to a buffer while a test that reads
//! them has asked for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::prelude::*;

static CAPTURING: AtomicBool = AtomicBool::new(false);

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the subscriber (once; later calls do nothing).
pub fn init() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let buf = buffer().clone();
        let capture = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || Captured(buf.clone()))
            .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                CAPTURING.load(Ordering::Relaxed) && *m.level() <= tracing::Level::INFO
            }));
        let shown = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(tracing_subscriber::EnvFilter::from_default_env());
        tracing_subscriber::registry()
            .with(shown)
            .with(capture)
            .try_init()
            .expect("the test binary's only subscriber");
    });
}

/// Every info line logged in this process from now on (other tests' too, when they run
/// at the same time).
pub fn captured() -> Arc<Mutex<Vec<u8>>> {
    init();
    CAPTURING.store(true, Ordering::Relaxed);
    buffer().clone()
}
