//! Secret JSON in the format of AWS's rotation templates.
//!
//! [`SecretJson`] owns the parsed object. Its `Debug` lists keys only and its
//! `Drop` wipes every string it holds, so values do not linger or leak.

use std::fmt;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::RotatorError;

/// What a secret string turned out to be.
pub enum SecretShape {
    /// Not JSON at all: an opaque value such as an API key.
    Plain,
    /// A JSON object.
    Object(SecretJson),
}

/// Classifies a secret string. A JSON array or quoted JSON string, and text
/// that starts like an object or array but does not parse, are errors (the
/// message names the problem, never the value); a bare number or boolean is
/// an opaque plain value.
pub fn classify(raw: &SecretString) -> Result<SecretShape, RotatorError> {
    let s = raw.expose_secret();
    let trimmed = s.trim_start();
    if trimmed.is_empty() {
        return Err(RotatorError::invalid("the secret value is empty"));
    }
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(map)) => Ok(SecretShape::Object(SecretJson { map })),
        // A bare number, `true`, `false` or `null` is an opaque value such
        // as a PIN, not structured data.
        Ok(Value::Number(_) | Value::Bool(_) | Value::Null) => Ok(SecretShape::Plain),
        Ok(mut other) => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            wipe(&mut other);
            Err(RotatorError::invalid(format!(
                "the secret is JSON {kind}, not an object or a plain string"
            )))
        }
        Err(e) if trimmed.starts_with('{') || trimmed.starts_with('[') => {
            Err(RotatorError::invalid(format!(
                "the secret looks like JSON but does not parse (line {}, column {})",
                e.line(),
                e.column()
            )))
        }
        Err(_) => Ok(SecretShape::Plain),
    }
}

fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => m.values_mut().for_each(wipe),
        _ => {}
    }
}

/// A secret's JSON object. Unknown fields are carried over untouched.
pub struct SecretJson {
    map: Map<String, Value>,
}

impl fmt::Debug for SecretJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretJson")
            .field("keys", &self.map.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Drop for SecretJson {
    fn drop(&mut self) {
        self.map.values_mut().for_each(wipe);
    }
}

impl SecretJson {
    /// Parses a secret that must be a JSON object.
    pub fn parse(raw: &SecretString) -> Result<Self, RotatorError> {
        match classify(raw)? {
            SecretShape::Object(j) => Ok(j),
            SecretShape::Plain => Err(RotatorError::invalid("the secret is not a JSON object")),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A string field that is not a credential (host, username, engine, ...).
    pub fn str_field(&self, key: &str) -> Result<Option<&str>, RotatorError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(RotatorError::invalid(format!(
                "field '{key}' must be a string"
            ))),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&str, RotatorError> {
        match self.str_field(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(RotatorError::invalid(format!(
                "required field '{key}' is missing or empty"
            ))),
        }
    }

    /// A port given as a number or a numeric string, as the templates accept.
    pub fn port(&self, default: u16) -> Result<u16, RotatorError> {
        let bad = || RotatorError::invalid("field 'port' must be a number from 1 to 65535");
        match self.map.get("port") {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .ok_or_else(bad),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    /// `masterarn`: the secret holding an admin login on the same server,
    /// which turns on alternating users. Present but empty is an error.
    pub fn masterarn(&self) -> Result<Option<String>, RotatorError> {
        match self.str_field("masterarn")? {
            Some("") => Err(RotatorError::invalid("field 'masterarn' is empty")),
            other => Ok(other.map(str::to_owned)),
        }
    }

    /// `ssl`: `true`/`"true"` requires TLS, `false`/`"false"` disables it,
    /// absent means "try TLS, fall back to plain".
    pub fn ssl(&self) -> Result<Option<bool>, RotatorError> {
        match self.map.get("ssl") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(RotatorError::invalid("field 'ssl' must be true or false")),
            },
            Some(_) => Err(RotatorError::invalid("field 'ssl' must be true or false")),
        }
    }

    /// The `password` field as a secret.
    pub fn password(&self) -> Result<SecretString, RotatorError> {
        match self.map.get("password") {
            Some(Value::String(s)) => Ok(SecretString::from(s.clone())),
            Some(_) => Err(RotatorError::invalid("field 'password' must be a string")),
            None => Err(RotatorError::invalid(
                "required field 'password' is missing",
            )),
        }
    }

    pub fn set_password(&mut self, password: &SecretString) {
        if let Some(old) = self.map.get_mut("password") {
            wipe(old);
        }
        self.map.insert(
            "password".to_owned(),
            Value::String(password.expose_secret().to_owned()),
        );
    }

    pub fn set_str(&mut self, key: &str, value: &str) {
        self.map
            .insert(key.to_owned(), Value::String(value.to_owned()));
    }

    /// Serialises back to a secret string, keeping every other field.
    pub fn to_secret(&self) -> SecretString {
        // Serialising a map of JSON values cannot fail.
        SecretString::from(serde_json::to_string(&self.map).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-7f3a-do-not-log";

    #[test]
    fn debug_and_errors_never_show_values() {
        let raw = SecretString::from(format!(
            r#"{{"username":"u","password":"{CANARY}","port":"x"}}"#
        ));
        let j = SecretJson::parse(&raw).unwrap();
        assert!(!format!("{j:?}").contains(CANARY));
        let err = j.port(5432).unwrap_err();
        assert!(!err.to_string().contains(CANARY));
        assert!(err.to_string().contains("port"));
        let bad = SecretString::from(format!(r#"{{"password":"{CANARY}""#));
        let err = classify(&bad).err().unwrap();
        assert!(!format!("{err} {err:?}").contains(CANARY));
    }

    #[test]
    fn shapes() {
        assert!(matches!(
            classify(&"api-key-123".into()),
            Ok(SecretShape::Plain)
        ));
        assert!(classify(&"[1,2]".into()).is_err());
        assert!(matches!(classify(&"0042".into()), Ok(SecretShape::Plain)));
        assert!(matches!(classify(&"42".into()), Ok(SecretShape::Plain)));
        assert!(classify(&"\"quoted\"".into()).is_err());
        assert!(classify(&"".into()).is_err());
        assert!(classify(&"{oops".into()).is_err());
    }

    #[test]
    fn fields_are_carried_over() {
        let raw = SecretString::from(r#"{"password":"a","port":"5433","extra":{"k":[1]}}"#);
        let mut j = SecretJson::parse(&raw).unwrap();
        assert_eq!(j.port(5432).unwrap(), 5433);
        j.set_password(&"b".into());
        let out: Value = serde_json::from_str(j.to_secret().expose_secret()).unwrap();
        assert_eq!(out["password"], "b");
        assert_eq!(out["port"], "5433");
        assert_eq!(out["extra"]["k"][0], 1);
    }
}
