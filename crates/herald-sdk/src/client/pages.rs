//! Paths with query strings, and lists read page by page as a stream.

use serde::Serialize;

use super::{Error, Page};

/// `path` with `filter`'s set fields and the cursor as its query string.
pub(super) fn with_query<F: Serialize>(
    path: &str,
    filter: &F,
    cursor: Option<&str>,
) -> Result<String, Error> {
    let mut query =
        serde_urlencoded::to_string(filter).map_err(|e| Error::Decode(e.to_string()))?;
    if let Some(c) = cursor {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(
            &serde_urlencoded::to_string([("cursor", c)])
                .map_err(|e| Error::Decode(e.to_string()))?,
        );
    }
    Ok(if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    })
}

/// `path` with only a cursor.
pub(super) fn with_cursor(path: &str, cursor: Option<&str>) -> String {
    with_query(path, &(), cursor).unwrap_or_else(|_| path.to_string())
}

/// Turns a page fetcher into a stream of items.
pub(super) fn paginate<'a, T, F, Fut>(
    fetch: F,
) -> impl futures_util::Stream<Item = Result<T, Error>> + 'a
where
    T: 'a,
    F: Fn(Option<String>) -> Fut + 'a,
    Fut: std::future::Future<Output = Result<Page<T>, Error>> + 'a,
{
    use futures_util::StreamExt;
    // State: the next cursor (`None` once the last page was read), and the fetcher.
    futures_util::stream::unfold(
        (Some(None::<String>), fetch),
        |(cursor, fetch)| async move {
            let cursor = cursor?;
            match fetch(cursor).await {
                Ok(page) => {
                    let next = page.next_cursor.map(Some);
                    let items: Vec<Result<T, Error>> = page.data.into_iter().map(Ok).collect();
                    Some((futures_util::stream::iter(items), (next, fetch)))
                }
                Err(e) => Some((futures_util::stream::iter(vec![Err(e)]), (None, fetch))),
            }
        },
    )
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{DeliveryFilter, DeliveryStatus};

    #[test]
    fn only_set_filters_and_the_cursor_reach_the_query() {
        let f = DeliveryFilter {
            status: Some(DeliveryStatus::Failed),
            endpoint_id: Some("ep_1".into()),
            ..Default::default()
        };
        assert_eq!(
            with_query("/d", &f, Some("c/1")).unwrap(),
            "/d?status=failed&endpoint_id=ep_1&cursor=c%2F1"
        );
        assert_eq!(
            with_query("/d", &DeliveryFilter::default(), None).unwrap(),
            "/d"
        );
        assert_eq!(with_cursor("/d", Some("x")), "/d?cursor=x");
    }
}
