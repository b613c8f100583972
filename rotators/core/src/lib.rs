//! Core of the rotators: the [`Rotator`] trait, the password policy and
//! generator, the secret JSON helper, the error type and the generic rotator.

pub mod alternate;
mod error;
mod generic;
pub mod json;
mod password;
mod rotator;

pub use error::{BoxError, RotatorError};
pub use generic::GenericRotator;
pub use json::SecretJson;
pub use password::{
    PasswordPolicy, DEFAULT_EXCLUDE_CHARACTERS, DEFAULT_LENGTH, MAX_LENGTH, TAG_PREFIX,
};
pub use rotator::{Rotator, SecretSource, StepContext};
pub use secrecy::{ExposeSecret, SecretString};
