//! `GET /metadata/NAME`: prepared bytes from memory, with ETag and cache headers.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{json_error, not_modified};
use crate::error::Rejection;
use crate::state::AppState;

pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> HttpResponse {
    let published = state.published();
    let Some(file) = published.file(&name) else {
        return json_error(&Rejection::new(404, "not_found", format!("no metadata {name}")));
    };
    // Versioned files never change; timestamp.json must be revalidated every time.
    let cache = if name.as_str() == "timestamp.json" {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    if not_modified(&req, &file.etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, file.etag.clone()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::ETAG, file.etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(file.bytes.clone())
}
