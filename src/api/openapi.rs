//! The OpenAPI 3 document served at `/openapi.json`. A test walks every
//! path and method in it through the router, so it stays true to the routes.

use serde_json::{json, Value};

fn err(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn name_param() -> Value {
    json!({"name": "name", "in": "path", "required": true,
           "description": "Secret name; may contain `/` (literally or as %2F). A name ending in /rotation or /rotate must encode that `/` as %2F.",
           "schema": {"type": "string", "maxLength": 512, "pattern": "^[A-Za-z0-9/_+=.@-]+$"}})
}

fn protected(op: Value) -> Value {
    let mut op = op;
    op["security"] = json!([{"bearer": []}]);
    let r = op["responses"].as_object_mut().map(|r| {
        r.insert(
            "400".into(),
            err("Bad input (the message names the problem)"),
        );
        r.insert(
            "401".into(),
            err("Missing or invalid token (WWW-Authenticate: Bearer error=\"invalid_token\")"),
        );
        r.insert(
            "403".into(),
            err("insufficient_scope, or secret_not_served by this deployment"),
        );
        r.insert("500".into(), err("Opaque internal error"));
        r.insert("503".into(), err("Secrets Manager unavailable; retry"));
    });
    let _ = r;
    op
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The document, as JSON text.
pub fn document() -> String {
    let value_schema = json!({"type": "object", "required": ["name", "arn", "versionId", "versionStages"], "properties": {
        "name": {"type": "string"}, "arn": {"type": "string"}, "versionId": {"type": "string"},
        "versionStages": {"type": "array", "items": {"type": "string"}},
        "secret": {"type": "string"}, "secretBinary": {"type": "string", "format": "byte"}}});
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "secrets-rotation-service API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "JWT-guarded reads and rotate-now over AWS Secrets Manager. Scopes: secrets:read:<pattern>, secrets:rotate:<pattern>, secrets:list; `*` matches within a `/` segment, `**` across."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}
        },
        "paths": {
            "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness; needs no token",
                "responses": {"200": ok("Alive", json!({"type": "object"}))}}},
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                "responses": {"200": ok("OpenAPI 3 document", json!({"type": "object"}))}}},
            "/secrets": {"get": protected(json!({"operationId": "listSecrets",
                "summary": "Names and metadata of the secrets the caller may read (scope secrets:list); never values",
                "parameters": [
                    {"name": "prefix", "in": "query", "schema": {"type": "string"}},
                    {"name": "nextToken", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": ok("A page of secrets", json!({"type": "object", "properties": {
                    "secrets": {"type": "array", "items": {"type": "object"}}, "nextToken": {"type": "string", "nullable": true}}}))}}))},
            "/secrets/{name}": {"get": protected(json!({"operationId": "getSecretValue",
                "summary": "A secret's value (AWSCURRENT unless a stage or version is asked for)",
                "parameters": [name_param(),
                    {"name": "versionStage", "in": "query", "schema": {"type": "string"}},
                    {"name": "versionId", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": ok("The value", value_schema), "404": err("No such secret or version")}}))},
            "/secrets/{name}/rotate": {"post": protected(json!({"operationId": "rotateSecret",
                "summary": "Start a rotation (RotateSecret)",
                "parameters": [name_param()],
                "responses": {
                    "202": ok("Rotation started", json!({"type": "object", "properties": {
                        "name": {"type": "string"}, "versionId": {"type": "string"}, "status": {"type": "string", "enum": ["rotating"]}}})),
                    "400": err("rotation_not_configured, or other bad input"),
                    "404": err("No such secret"),
                    "409": err("rotation_in_progress")}}))},
            "/secrets/{name}/rotation": {"get": protected(json!({"operationId": "getRotation",
                "summary": "Rotation settings and state",
                "parameters": [name_param()],
                "responses": {"200": ok("Rotation state", json!({"type": "object", "properties": {
                    "rotationEnabled": {"type": "boolean"}, "rotationRules": {"type": "object"},
                    "lastRotatedDate": {"type": "string", "nullable": true}, "nextRotationDate": {"type": "string", "nullable": true},
                    "inProgress": {"type": "boolean"}, "pendingVersionId": {"type": "string", "nullable": true}}})),
                    "404": err("No such secret")}}))},
            "/get-secret/{name}": {"get": protected(json!({"operationId": "getSecretLegacy",
                "summary": "The original service's contract: {\"secret\": value}",
                "parameters": [name_param()],
                "responses": {"200": ok("The value", json!({"type": "object", "properties": {"secret": {"type": "string"}}})),
                    "404": err("No such secret")}}))},
            "/rotate-secret/{name}": {"post": protected(json!({"operationId": "rotateSecretAndWait",
                "summary": "Rotate, then wait up to ROTATE_WAIT_SECONDS for AWSCURRENT to move",
                "parameters": [name_param()],
                "responses": {
                    "200": ok("Rotated; new_secret only with read access too", json!({"type": "object", "properties": {
                        "status": {"type": "string", "enum": ["rotated"]}, "versionId": {"type": "string"}, "new_secret": {"type": "string"}}})),
                    "202": ok("Still rotating when the wait ran out", json!({"type": "object", "properties": {
                        "status": {"type": "string", "enum": ["rotating"]}, "versionId": {"type": "string"}}})),
                    "404": err("No such secret"),
                    "409": err("rotation_in_progress")}}))}
        }
    });
    doc.to_string()
}
