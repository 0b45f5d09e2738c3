//! Helpers for the typed input of services (the bodies both front doors deserialise).
//!
//! A leaf module: no crate imports.

/// For `PATCH` fields that may be cleared: `#[serde(default, deserialize_with = "double_option")]`
/// makes an absent field `None` and an explicit `null` `Some(None)`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Normalises an email address for storage and look-up (sign-in, identity matching, imports).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A character no text field of tomoni holds: NUL and the other control characters but tab,
/// line feed and carriage return. PostgreSQL refuses NUL in text outright (a 500 if it got that
/// far), SQLite would store it and hand it on to calendars and mail.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r') && (c as u32) < 0xa0
}

/// A line break in a field that is one line (a name, a title): it would show as extra lines in
/// mail text parts and headers and in calendar entries. Free text (descriptions) may have them.
pub fn single_line(field: &str, value: &str) -> Option<crate::error::FieldError> {
    value
        .trim()
        .contains(['\r', '\n'])
        .then(|| crate::error::FieldError::new(field, "line_break", "one line: no line breaks"))
}

/// The path (`title`, `entries[2].employee_number`) of the first string in `value` holding a
/// forbidden control character.
pub fn control_character_path(value: &serde_json::Value) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) if s.chars().any(is_forbidden_control) => {
                Some(if path.is_empty() {
                    "body".to_owned()
                } else {
                    path.to_owned()
                })
            }
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            serde_json::Value::Object(fields) => fields.iter().find_map(|(k, item)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(item, &p)
            }),
            _ => None,
        }
    }
    walk(value, "")
}

/// Whether a raw query string encodes a forbidden control character (`%00`, `%1b`, ...).
pub fn query_has_control_character(query: &str) -> bool {
    let bytes = query.as_bytes();
    bytes.windows(3).any(|w| {
        w[0] == b'%'
            && std::str::from_utf8(&w[1..])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                // Bytes from 0x80 are pieces of UTF-8 characters, checked once decoded.
                .is_some_and(|b| b < 0x80 && is_forbidden_control(char::from(b)))
    })
}

/// A scoring sheet as both the awards and the programme reviews take it: `(criterion, score)`
/// pairs, exactly one for each of `criteria`, each from 1 to 5. Returns the scores by criterion,
/// or the problems named `scores` / `scores[i].score`.
pub fn score_sheet(
    given: &[(uuid::Uuid, i32)],
    criteria: &std::collections::BTreeSet<uuid::Uuid>,
) -> Result<std::collections::BTreeMap<uuid::Uuid, i32>, Vec<crate::error::FieldError>> {
    use crate::error::FieldError;
    let sheet: std::collections::BTreeMap<uuid::Uuid, i32> = given.iter().copied().collect();
    let mut errors = Vec::new();
    if sheet.len() != given.len() || !sheet.keys().eq(criteria.iter()) {
        errors.push(FieldError::new(
            "scores",
            "incomplete",
            format!("one score for each of the {} criteria", criteria.len()),
        ));
    }
    for (i, (_, score)) in given.iter().enumerate() {
        if !(1..=5).contains(score) {
            errors.push(FieldError::new(
                format!("scores[{i}].score"),
                "out_of_range",
                "1 to 5",
            ));
        }
    }
    if errors.is_empty() {
        Ok(sheet)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_by_path() {
        let v = serde_json::json!({"title": "ok\nfine\ttoo", "entries": [{"a": "x"}, {"b": "a\u{0}b"}]});
        assert_eq!(control_character_path(&v).as_deref(), Some("entries[1].b"));
        assert_eq!(
            control_character_path(&serde_json::json!({"t": "日本語\r\n"})),
            None
        );
        assert_eq!(
            control_character_path(&serde_json::json!("\u{1b}[31m")).as_deref(),
            Some("body")
        );
        assert!(query_has_control_character("q=a%00b"));
        assert!(query_has_control_character("q=%1B"));
        assert!(!query_has_control_character("q=a%20b%0A&x=%E6%97%A5"));
    }
}
