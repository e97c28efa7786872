//! CSV downloads: the body, its file name, and a `Link: <…>; rel="next"`
//! header when there is more.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

/// `body` as a CSV attachment named `filename`, pointing at `next` (a
/// percent-encoded path and query) for the rest.
pub fn download(filename: &'static str, body: String, next: Option<String>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Percent-encoded by the caller, so always a valid header value.
    if let Some(Ok(value)) = next.map(|link| HeaderValue::from_str(&format!("<{link}>; rel=\"next\""))) {
        headers.insert(header::LINK, value);
    }
    (headers, body).into_response()
}

/// `name=value&…` of the fields that are set, percent-encoded.
pub fn query_string(fields: &[(&str, Option<String>)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            fields
                .iter()
                .filter_map(|(name, value)| value.as_deref().map(|value| (*name, value))),
        )
        .finish()
}
