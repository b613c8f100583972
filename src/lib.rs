//! secrets-rotation: the engine, the stores and the Lambda glue of a native
//! AWS Secrets Manager rotation function.

pub mod api;
pub mod engine;
pub mod lambda;
pub mod local;
pub mod logging;
pub mod registry;
pub mod runtime_api;
pub mod store;

pub use engine::{Engine, EngineError, Outcome, Step};
pub use registry::Registry;
