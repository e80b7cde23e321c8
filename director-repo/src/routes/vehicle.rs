//! What vehicles use: their own metadata and manifests. Over HTTPS a vehicle must present a
//! client certificate from the fleet CA naming the VIN of the URL (mutual TLS); only with
//! `--insecure-http` (development) is the URL alone trusted.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use super::blocking;
use crate::error::{Error, Rejection, Rejections as _};
use crate::state::AppState;
use crate::tls::ClientIdentity;

/// The connection's client certificate must name `vin` (any vehicle, if `None`).
fn authenticate(state: &AppState, req: &HttpRequest, vin: Option<&str>) -> Result<(), Rejection> {
    if state.config.insecure_http {
        return Ok(());
    }
    match req.conn_data::<ClientIdentity>() {
        None => Err(Rejection::new(
            401,
            "client_certificate_required",
            "vehicles must present a client certificate from the fleet CA",
        )),
        Some(identity) => match vin {
            None => Ok(()),
            Some(vin) if identity.names.iter().any(|name| name == vin) => Ok(()),
            Some(vin) => Err(Rejection::new(
                403,
                "wrong_vehicle",
                format!("the client certificate names {:?}, not {vin}", identity.names),
            )),
        },
    }
}

/// Which file a vehicle asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetadataName {
    Root(u64),
    Timestamp,
    Snapshot(u64),
    Targets(u64),
}

fn parse_name(name: &str) -> Option<MetadataName> {
    if name == "timestamp.json" {
        return Some(MetadataName::Timestamp);
    }
    let (version, role) = name.strip_suffix(".json")?.split_once('.')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let version: u64 = version.parse().ok()?;
    match role {
        "root" => Some(MetadataName::Root(version)),
        "snapshot" => Some(MetadataName::Snapshot(version)),
        "targets" => Some(MetadataName::Targets(version)),
        _ => None,
    }
}

/// `GET /vehicles/VIN/metadata/{N.root.json|timestamp.json|V.snapshot.json|V.targets.json}`.
pub async fn metadata(
    state: Data<AppState>,
    req: HttpRequest,
    path: Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let (vin, name) = path.into_inner();
    authenticate(&state, &req, Some(&vin))?;
    let what = parse_name(&name)
        .ok_or_else(|| Rejection::not_found("not_found", format!("no metadata file {name:?}")))?;
    let bytes = blocking(move || {
        // The timestamp path finds unknown vehicles itself (one query less per poll).
        if what != MetadataName::Timestamp && state.db.vehicle(&vin)?.is_none() {
            return Err(Rejection::unknown_vehicle(&vin).into());
        }
        let found = match what {
            MetadataName::Root(version) => match i64::try_from(version) {
                Ok(version) => state
                    .db
                    .root(version)?
                    .map(|h| hex::decode(h).map(Bytes::from))
                    .transpose()
                    .map_err(|e| Error::Internal(e.to_string()))?,
                Err(_) => None,
            },
            MetadataName::Timestamp => Some(crate::bundle::current_timestamp(&state, &vin)?),
            MetadataName::Snapshot(v) => crate::bundle::stored(&state, &vin, "snapshot", v)?,
            MetadataName::Targets(v) => crate::bundle::stored(&state, &vin, "targets", v)?,
        };
        found.ok_or_else(|| Rejection::not_found("not_found", format!("no {name}")).into())
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(bytes))
}

/// `PUT /vehicles/VIN/manifest`.
pub async fn manifest(
    state: Data<AppState>,
    req: HttpRequest,
    vin: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    authenticate(&state, &req, Some(&vin))?;
    if body.len() > state.config.max_manifest_bytes {
        return Err(Rejection::new(413, "too_large", "the manifest is too large").into());
    }
    let vin = vin.into_inner();
    let receipt = blocking(move || {
        let result = crate::manifest::receive(&state, &vin, &body);
        if let Err(Error::Rejected(refused)) = &result {
            let keep = state.config.max_refused_manifests as i64;
            if let Err(e) = state.db.cap_refused_manifests(&vin, refused.code, keep) {
                tracing::warn!(vin, error = %e, "counting a refused manifest");
            }
        }
        result
    })
    .await?;
    Ok(HttpResponse::Ok().json(receipt))
}

/// `POST /time`: a signed time attestation over the ECUs' nonces.
pub async fn time(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Error> {
    authenticate(&state, &req, None)?;
    let request: crate::attestation::TimeRequest =
        serde_json::from_slice(&body).map_err(|e| Rejection::bad_request("bad_nonces", e))?;
    let bytes = blocking(move || crate::attestation::attest(&state, &request)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names() {
        assert_eq!(parse_name("timestamp.json"), Some(MetadataName::Timestamp));
        assert_eq!(parse_name("3.root.json"), Some(MetadataName::Root(3)));
        assert_eq!(parse_name("12.targets.json"), Some(MetadataName::Targets(12)));
        assert_eq!(parse_name("1.snapshot.json"), Some(MetadataName::Snapshot(1)));
        assert_eq!(parse_name("targets.json"), None);
        assert_eq!(parse_name("x.root.json"), None);
        assert_eq!(parse_name("1.supplier.json"), None);
    }
}
