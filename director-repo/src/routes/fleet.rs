//! The fleet as the operator watches it: which vehicles stopped reporting
//! ([`crate::reporting`]).

use actix_web::HttpRequest;
use actix_web::web::{Data, Json, Query};
use serde::Deserialize;

use super::{authorize, blocking};
use crate::error::{Error, Rejection};
use crate::reporting::{self, Reporting};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// Only the overdue vehicles.
    #[serde(default)]
    overdue: bool,
}

/// `GET /api/v1/vehicles[?overdue=true]`.
pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<Json<Vec<Reporting>>, Error> {
    authorize(&state, &req)?;
    let filter = Query::<Filter>::from_query(req.query_string())
        .map_err(|e| Rejection::bad_request("bad_request", e))?;
    let only_overdue = filter.overdue;
    Ok(Json(blocking(move || reporting::fleet(&state, only_overdue)).await?))
}
