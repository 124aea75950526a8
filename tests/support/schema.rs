//! A validator for the part of JSON Schema (2020-12, as OpenAPI 3.1 uses it) that utoipa
//! emits for the contract: `$ref` into `#/components/schemas`, `type` (one or several, `null`
//! included), `enum`, `properties` / `required` / `additionalProperties`, `items`,
//! `minItems` / `maxItems`, `minimum` / `maximum`, `oneOf` / `anyOf` / `allOf`, and the
//! formats `date` and `date-time`. Anything else in a schema (`pattern`, `description`, …) is
//! not checked. Small on purpose: a crate such as `jsonschema` would bring a regex engine, an
//! HTTP client for remote references and much more into the build for this one test.

use serde_json::Value;

/// Every way `value` does not fit `schema` (empty when it fits), each naming where (`at`, a
/// JSON path such as `$.cases[0].applicant`). `doc` is the OpenAPI document the schema's
/// references point into.
pub fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    check(doc, schema, value, at, &mut errors, 0);
    errors
}

fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
    depth: u32,
) {
    if depth > 64 {
        errors.push(format!("{at}: schema nested too deep (a reference cycle?)"));
        return;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match resolve(doc, reference) {
            Some(target) => check(doc, target, value, at, errors, depth + 1),
            None => errors.push(format!("{at}: unresolved reference {reference}")),
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            check(doc, part, value, at, errors, depth + 1);
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let fitting: Vec<Vec<String>> = one
            .iter()
            .map(|part| {
                let mut e = Vec::new();
                check(doc, part, value, at, &mut e, depth + 1);
                e
            })
            .collect();
        let fits = fitting.iter().filter(|e| e.is_empty()).count();
        if fits != 1 {
            errors.push(format!(
                "{at}: fits {fits} of the {} schemas of oneOf (exactly one expected): {}",
                one.len(),
                fitting.concat().join("; ")
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let mut all_errors = Vec::new();
        let fits = any.iter().any(|part| {
            let mut e = Vec::new();
            check(doc, part, value, at, &mut e, depth + 1);
            all_errors.extend(e.iter().cloned());
            e.is_empty()
        });
        if !fits {
            errors.push(format!(
                "{at}: fits none of anyOf: {}",
                all_errors.join("; ")
            ));
        }
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.iter().any(|t| is_type(value, t)) {
            errors.push(format!("{at}: {} is not of type {types}", kind(value)));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            errors.push(format!(
                "{at}: {value} is not one of {}",
                Value::Array(values.clone())
            ));
        }
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = required.as_str() {
                    if !fields.contains_key(name) {
                        errors.push(format!("{at}: the required field {name:?} is missing"));
                    }
                }
            }
            for (name, field) in fields {
                let here = format!("{at}.{name}");
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => check(doc, property, field, &here, errors, depth + 1),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errors.push(format!("{here}: a field the schema does not have"))
                        }
                        Some(extra @ Value::Object(_)) => {
                            check(doc, extra, field, &here, errors, depth + 1)
                        }
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, element) in items.iter().enumerate() {
                    check(doc, item, element, &format!("{at}[{i}]"), errors, depth + 1);
                }
            }
            let len = items.len() as u64;
            if schema
                .get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|min| len < min)
            {
                errors.push(format!("{at}: {len} items, fewer than minItems"));
            }
            if schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|max| len > max)
            {
                errors.push(format!("{at}: {len} items, more than maxItems"));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if schema
                .get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|min| x < min)
            {
                errors.push(format!("{at}: {n} is below the minimum"));
            }
            if schema
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|max| x > max)
            {
                errors.push(format!("{at}: {n} is above the maximum"));
            }
        }
        Value::String(s) => match schema.get("format").and_then(Value::as_str) {
            Some("date") if !is_date(s) => errors.push(format!("{at}: {s:?} is not a date")),
            Some("date-time") if !(s.len() > 11 && is_date(&s[..10]) && &s[10..11] == "T") => {
                errors.push(format!("{at}: {s:?} is not a date-time"))
            }
            _ => {}
        },
        _ => {}
    }
}

/// `#/components/schemas/Name` (or any JSON pointer from the document's root).
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `YYYY-MM-DD` by its shape.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}
