//! The HTTP interface: per-vehicle reads and manifests under `/vehicles/VIN` and time
//! attestations at `/time` (mutual TLS), and the operator's admin API under `/api/v1`
//! (bearer token).

mod admin;
mod campaigns;
mod fleet;
mod ops;
mod provisioning;
mod vehicle;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{Error, Rejection, Rejections as _};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/vehicles/{vin}/metadata/{name}")
            .route(web::get().to(vehicle::metadata))
            .route(web::head().to(vehicle::metadata)),
    )
    .service(web::resource("/vehicles/{vin}/manifest").route(web::put().to(vehicle::manifest)))
    .service(web::resource("/time").route(web::post().to(vehicle::time)))
    .service(web::resource("/api/v1/root").route(web::put().to(admin::put_root)))
    .service(
        web::resource("/api/v1/vehicles")
            .route(web::get().to(fleet::list))
            .route(web::post().to(admin::register)),
    )
    .service(web::resource("/api/v1/vehicles/{vin}").route(web::get().to(admin::vehicle)))
    .service(
        web::resource("/api/v1/vehicles/{vin}/assignments").route(web::post().to(admin::assign)),
    )
    .service(
        web::resource("/api/v1/vehicles/{vin}/client-certificate")
            .route(web::post().to(admin::client_certificate)),
    )
    .service(
        web::resource("/api/v1/vehicles/{vin}/hold").route(web::delete().to(admin::release_hold)),
    )
    // Campaigns.
    .service(
        web::resource("/api/v1/campaigns")
            .route(web::get().to(campaigns::list))
            .route(web::post().to(campaigns::create)),
    )
    .service(web::resource("/api/v1/campaigns/{id}").route(web::get().to(campaigns::get)))
    .service(web::resource("/api/v1/campaigns/{id}/{action}").route(web::post().to(campaigns::act)))
    // Provisioning by Primaries with the fleet credential, and its operator side.
    .service(web::resource("/provisioning").route(web::post().to(provisioning::provision)))
    .service(
        web::resource("/api/v1/vehicles/{vin}/reprovisioning")
            .route(web::post().to(provisioning::allow)),
    )
    .service(
        web::resource("/api/v1/vehicles/{vin}/provisioning")
            .route(web::get().to(provisioning::history)),
    )
    // Operations.
    .service(
        web::resource("/api/v1/vehicles/{vin}/rejections").route(web::get().to(ops::rejections)),
    )
    .service(web::resource("/metrics").route(web::get().to(ops::metrics)))
    .service(web::resource("/api/v1/openapi.yaml").route(web::get().to(ops::openapi)))
    .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    json_error(Rejection::not_found("not_found", "no such resource"))
}

/// A rejection as a JSON response.
pub(crate) fn json_error(rejection: Rejection) -> HttpResponse {
    actix_web::ResponseError::error_response(&Error::Rejected(rejection))
}

/// Checks the operator token.
pub(crate) fn authorize(state: &AppState, req: &HttpRequest) -> Result<(), Error> {
    let header =
        req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    Ok(state.authorize(header)?)
}

/// A JSON request body; one that does not parse is a `bad_request`.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Rejection::bad_request("bad_request", e).into())
}

/// Runs blocking work (database, signing) off the event loop.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    web::block(work).await.map_err(|e| Error::Internal(e.to_string()))?
}
