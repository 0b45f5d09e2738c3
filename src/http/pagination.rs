//! Keyset pagination shared by every list endpoint: `?limit=` (default 50, at most 200) and an
//! opaque `?cursor=` taken from the previous page's `next_cursor`.
//!
//! Keyset (seek) pagination stays fast at any depth, where OFFSET was measured to collapse.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The validated page size.
pub fn limit(requested: Option<i64>) -> AppResult<i64> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(AppError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}, got {n}"),
        )),
    }
}

/// Parses an id cursor (lists ordered by their time-ordered UUID v7 keys).
pub fn id_cursor(cursor: Option<&str>) -> AppResult<Option<crate::db::Id>> {
    cursor
        .map(|c| {
            c.parse()
                .map_err(|_| AppError::bad_request("invalid_query", "unknown cursor"))
        })
        .transpose()
}

/// Builds a page from up to `limit + 1` rows (the extra row only tells that more exist).
pub fn page<T: ToSchema>(
    mut rows: Vec<T>,
    limit: i64,
    cursor_of: impl Fn(&T) -> String,
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// [`Page`] over rows kept elsewhere (the event list cache), serialised without copying them.
#[derive(Debug, Serialize)]
pub struct PageOf<'a, T> {
    pub items: &'a [T],
    pub next_cursor: Option<String>,
}

/// [`page`] for borrowed rows.
pub fn page_of<T>(rows: &[T], limit: i64, cursor_of: impl Fn(&T) -> String) -> PageOf<'_, T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match rows.get(..limit) {
        Some(items) if rows.len() > limit => PageOf {
            items,
            next_cursor: items.last().map(cursor_of),
        },
        _ => PageOf {
            items: rows,
            next_cursor: None,
        },
    }
}

impl<T: Serialize> PageOf<'_, T> {
    /// The page as a 200 `application/json` response, written into a buffer made for
    /// `bytes_per_item` an item: serde_json's own starts at 128 bytes and copies itself into
    /// ever larger ones, eight times for the event list's ~30 KB page.
    pub fn respond(&self, bytes_per_item: usize) -> AppResult<actix_web::HttpResponse> {
        let mut body = Vec::with_capacity(256 + self.items.len() * bytes_per_item);
        serde_json::to_writer(&mut body, self).map_err(AppError::internal)?;
        Ok(actix_web::HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_page_ends_where_an_owned_one_does() {
        for (n, limit) in [(0, 3), (2, 3), (3, 3), (4, 3), (9, 3)] {
            let rows: Vec<u32> = (0..n).collect();
            let owned = page(rows.clone(), limit, |r| r.to_string());
            let borrowed = page_of(&rows, limit, |r| r.to_string());
            assert_eq!(borrowed.items, owned.items.as_slice(), "{n} rows");
            assert_eq!(borrowed.next_cursor, owned.next_cursor, "{n} rows");
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some(200)).unwrap(), 200);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(201)).is_err());
    }

    #[test]
    fn next_cursor_only_when_more_rows_exist() {
        let p = page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next_cursor.as_deref(), Some("2"));
        let p = page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(p.next_cursor, None);
    }
}
