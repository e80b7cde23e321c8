//! `GET /metrics`: Prometheus text exposition.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    let text = state.metrics.render(&state.published());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text)
}
