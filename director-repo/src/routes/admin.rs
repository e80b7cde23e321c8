//! The operator's admin API.

use actix_web::web::{Bytes, Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::{authorize, blocking, parse};
use crate::error::{Error, Rejection, Rejections as _};
use crate::inventory::{self, AssignmentRequest, Registration};
use crate::state::AppState;

/// `PUT /api/v1/root`: a keytool-made Director root (version 1, or the next version).
pub async fn put_root(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    if body.len() > 512 * 1024 {
        return Err(Rejection::new(413, "too_large", "a root is at most 512 KiB").into());
    }
    let accepted = blocking(move || crate::root::upload(&state, &body)).await?;
    Ok(HttpResponse::Ok().json(accepted))
}

/// `POST /api/v1/vehicles`.
pub async fn register(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    let request: Registration = parse(&body)?;
    let vehicle = blocking(move || inventory::register(&state, &request)).await?;
    Ok(HttpResponse::Created().json(vehicle))
}

/// `POST /api/v1/vehicles/VIN/assignments`.
pub async fn assign(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    let request: AssignmentRequest = parse(&body)?;
    let vin = vin.into_inner();
    let row = blocking(move || inventory::assign(&state, &vin, &request)).await?;
    Ok(HttpResponse::Created().json(row))
}

/// `DELETE /api/v1/vehicles/VIN/hold`: after a partial installation the operator has looked at.
pub async fn release_hold(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    let vin = vin.into_inner();
    blocking(move || inventory::release_hold(&state, &vin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/vehicles/VIN`.
pub async fn vehicle(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
) -> Result<Json<inventory::VehicleState>, Error> {
    authorize(&state, &req)?;
    let vin = vin.into_inner();
    Ok(Json(blocking(move || inventory::vehicle_state(&state, &vin)).await?))
}

/// `POST /api/v1/vehicles/VIN/client-certificate`: a client certificate (and its new key)
/// naming the VIN, issued by the generated fleet CA, for provisioning the vehicle's Primary.
pub async fn client_certificate(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    let vin = vin.into_inner();
    let issued = blocking(move || {
        if state.db.vehicle(&vin)?.is_none() {
            return Err(Rejection::unknown_vehicle(&vin).into());
        }
        crate::tls::issue_client_certificate(&state.config, &vin)
    })
    .await?;
    Ok(HttpResponse::Created().json(issued))
}
