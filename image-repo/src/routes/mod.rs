//! The HTTP interface: public reads in the DESIGN.md layout, authenticated uploads under
//! `/api/v1`, and `/metrics`.

mod images;
mod metadata;
mod metrics;
mod upload;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::Rejection;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metadata/{name}")
            .route(web::get().to(metadata::get))
            .route(web::head().to(metadata::get)),
    )
    .service(
        web::resource("/targets/{tail:.*}")
            .route(web::get().to(images::get))
            .route(web::head().to(images::get)),
    )
    .service(
        web::resource("/api/v1/blobs/{sha256}")
            .route(web::put().to(upload::put_blob))
            .route(web::get().to(upload::get_blob)),
    )
    .service(web::resource("/api/v1/metadata/{role}").route(web::put().to(upload::put_metadata)))
    .service(web::resource("/metrics").route(web::get().to(metrics::get)))
    .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    json_error(&Rejection::new(404, "not_found", "no such resource"))
}

/// A rejection as a JSON response.
pub(crate) fn json_error(rejection: &Rejection) -> HttpResponse {
    use actix_web::ResponseError;
    crate::error::Error::Rejected(rejection.clone()).error_response()
}

/// Whether the request's If-None-Match names `etag`.
pub(crate) fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}
