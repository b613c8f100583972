//! tracing setup: JSON lines (what CloudWatch wants from a Lambda) or
//! human-readable text for the CLI. Spans carry ids, never values.

use tracing_subscriber::EnvFilter;

/// `RUST_LOG` sets the filter (default `info`); `json` picks the format.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}
