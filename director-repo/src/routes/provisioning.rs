//! Provisioning: Primaries with the fleet credential (`POST /provisioning`), and the operator's
//! side of it under `/api/v1/vehicles/VIN`.

use actix_web::web::{Bytes, Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::{authorize, blocking, parse};
use crate::error::{Error, Rejection};
use crate::provisioning::{self, History, ProvisioningRequest};
use crate::state::AppState;

/// Largest provisioning request: an inventory of many ECUs and a CSR.
const MAX_REQUEST: usize = 256 * 1024;

/// `POST /provisioning`: a Primary registers itself and its Secondaries and receives its
/// client certificate. Needs no client certificate (it has none yet), only the credential.
pub async fn provision(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    let header =
        req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.authorize_provisioning(header)?;
    if body.len() > MAX_REQUEST {
        return Err(
            Rejection::new(413, "too_large", "a provisioning request is at most 256 KiB").into()
        );
    }
    let request: ProvisioningRequest = parse(&body)?;
    let provisioned = blocking(move || provisioning::provision(&state, &request)).await?;
    Ok(HttpResponse::Created().json(provisioned))
}

/// `POST /api/v1/vehicles/VIN/reprovisioning`: the next provisioning of VIN may change its
/// ECUs and keys.
pub async fn allow(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    let vin = vin.into_inner();
    let allowance = blocking(move || provisioning::allow(&state, &vin)).await?;
    Ok(HttpResponse::Created().json(allowance))
}

/// `GET /api/v1/vehicles/VIN/provisioning`.
pub async fn history(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
) -> Result<Json<History>, Error> {
    authorize(&state, &req)?;
    let vin = vin.into_inner();
    Ok(Json(blocking(move || provisioning::history(&state, &vin)).await?))
}
