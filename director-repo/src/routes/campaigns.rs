//! The operator's campaign API (see [`crate::campaign`]).

use actix_web::web::{Bytes, Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::{authorize, blocking, parse};
use crate::campaign::{self, Action, CampaignRequest, CampaignView};
use crate::error::{Error, Rejection, Rejections as _};
use crate::state::AppState;

/// `POST /api/v1/campaigns`.
pub async fn create(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    authorize(&state, &req)?;
    let request: CampaignRequest = parse(&body)?;
    let view = blocking(move || campaign::create(&state, &request)).await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/campaigns`: every campaign with its progress, newest first.
pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<Json<Value>, Error> {
    authorize(&state, &req)?;
    let campaigns = blocking(move || campaign::list(&state)).await?;
    Ok(Json(json!({ "campaigns": campaigns })))
}

/// `GET /api/v1/campaigns/{id}`.
pub async fn get(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<Json<CampaignView>, Error> {
    authorize(&state, &req)?;
    let id = id.into_inner();
    Ok(Json(blocking(move || campaign::view(&state, &id)).await?))
}

/// `POST /api/v1/campaigns/{id}/{pause|resume|cancel}`.
pub async fn act(
    state: Data<AppState>,
    req: HttpRequest,
    path: Path<(String, String)>,
) -> Result<Json<CampaignView>, Error> {
    authorize(&state, &req)?;
    let (id, name) = path.into_inner();
    let action = Action::parse(&name)
        .ok_or_else(|| Rejection::not_found("not_found", format!("no campaign action {name:?}")))?;
    Ok(Json(blocking(move || campaign::act(&state, &id, action)).await?))
}
