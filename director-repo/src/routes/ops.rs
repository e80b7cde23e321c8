//! Operations: `GET /metrics` (Prometheus text), `GET /api/v1/openapi.yaml` (this API) and the
//! count of a vehicle's refused manifests by code (`GET /api/v1/vehicles/VIN/rejections`).

use std::collections::BTreeMap;

use actix_web::web::{Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::{authorize, blocking};
use crate::error::{Error, Rejection, Rejections as _};
use crate::state::AppState;

/// The OpenAPI 3 description of every route (checked against `routes/mod.rs` by a test).
pub const OPENAPI: &str = include_str!("../../openapi.yaml");

pub async fn metrics(state: Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/yaml").body(OPENAPI)
}

/// Every manifest of a vehicle refused so far, by code (stored or already deleted by the cap).
#[derive(Debug, Serialize)]
pub struct Refused {
    pub vin: String,
    pub refused: BTreeMap<String, i64>,
}

pub async fn rejections(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
) -> Result<Json<Refused>, Error> {
    authorize(&state, &req)?;
    let vin = vin.into_inner();
    Ok(Json(
        blocking(move || {
            if state.db.vehicle(&vin)?.is_none() {
                return Err(Rejection::unknown_vehicle(&vin).into());
            }
            let refused = state.db.refused_manifest_counts(&vin)?.into_iter().collect();
            Ok(Refused { vin, refused })
        })
        .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::OPENAPI;

    /// Each `web::resource("PATH")` of the route table with the methods routed to it.
    fn routes(source: &str) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for piece in source.split("web::resource(\"").skip(1) {
            let (path, rest) = piece.split_once('"').unwrap_or((piece, ""));
            let body = rest.split(".service(").next().unwrap_or(rest);
            let methods = body
                .split(".route(web::")
                .skip(1)
                .filter_map(|m| m.split_once("()").map(|(name, _)| name.to_owned()))
                .collect();
            out.push((path.to_owned(), methods));
        }
        out
    }

    /// The methods the OpenAPI file lists under `path`.
    fn documented(path: &str) -> Option<Vec<String>> {
        let start = OPENAPI.find(&format!("\n  {path}:\n"))? + path.len() + 5;
        let block = &OPENAPI[start..];
        let end = block.find("\n  /").unwrap_or(block.len());
        let methods = ["get", "put", "post", "delete", "head", "patch"];
        Some(
            block[..end]
                .lines()
                .filter_map(|l| l.strip_prefix("    ")?.strip_suffix(':'))
                .filter(|m| methods.contains(m))
                .map(str::to_owned)
                .collect(),
        )
    }

    #[test]
    fn every_route_and_method_is_documented() {
        let table = routes(include_str!("mod.rs"));
        assert!(table.len() >= 10, "the route table was not parsed: {table:?}");
        for (path, methods) in &table {
            let listed = documented(path)
                .unwrap_or_else(|| panic!("{path} is routed but not in openapi.yaml"));
            assert!(!methods.is_empty(), "no method parsed for {path}");
            for method in methods {
                assert!(listed.contains(method), "{method} {path} is routed but not documented");
            }
        }
    }

    #[test]
    fn every_documented_path_is_routed() {
        let table = routes(include_str!("mod.rs"));
        for line in OPENAPI.lines() {
            if let Some(path) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
                let path = format!("/{path}");
                assert!(table.iter().any(|(p, _)| *p == path), "{path} is documented, not routed");
            }
        }
    }

    #[test]
    fn a_missing_route_is_noticed() {
        assert_eq!(documented("/api/v1/nowhere"), None);
        let listed = documented("/vehicles/{vin}/metadata/{name}").unwrap();
        assert_eq!(listed, ["get", "head"]);
    }
}
