//! Authenticated uploads: `PUT /api/v1/blobs/SHA256` and `PUT /api/v1/metadata/ROLE`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Serialize;

use crate::error::{Error, Rejection, Rejections as _, Result};
use crate::publish::{Upload, publish};
use crate::state::AppState;
use crate::storage::{UploadRow, is_sha256_hex};

/// Roots are small; anything larger is an attack or a mistake.
const MAX_ROOT_BYTES: u64 = 512 * 1024;

fn authorize(state: &AppState, req: &HttpRequest) -> Result<()> {
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    Ok(state.authorize(value)?)
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

#[derive(Serialize)]
struct BlobReply {
    sha256: String,
    length: u64,
    hashes: uptane::metadata::Hashes,
}

pub async fn put_blob(
    state: web::Data<AppState>,
    req: HttpRequest,
    sha256: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    authorize(&state, &req)?;
    let limit = state.config.max_blob_bytes;
    if declared_length(&req).is_some_and(|n| n > limit) {
        return Err(Rejection::too_large("blob", limit).into());
    }
    let info = state.blobs.receive(&sha256, limit, payload).await?;
    let row = UploadRow {
        sha256: info.sha256.clone(),
        length: info.length as i64,
        hashes: serde_json::to_string(&info.hashes).map_err(|e| Error::Internal(e.to_string()))?,
        created_at: crate::now_text(),
    };
    let db_state = state.clone();
    web::block(move || db_state.db.record_upload(&row))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    tracing::info!(sha256 = %info.sha256, length = info.length, "blob stored");
    Ok(HttpResponse::Created().json(BlobReply {
        sha256: info.sha256,
        length: info.length,
        hashes: info.hashes,
    }))
}

/// `GET /api/v1/blobs/SHA256`: what an upload of that blob stored (the same answer as its PUT:
/// sha256, length, every hash), or 404. Lets `keytool publish --server` skip images the service
/// already holds, so re-publishing a release (or one sharing images with an earlier one) sends
/// each image once. A GET rather than a HEAD so that refusals carry the JSON error code.
pub async fn get_blob(
    state: web::Data<AppState>,
    req: HttpRequest,
    sha256: web::Path<String>,
) -> Result<HttpResponse> {
    authorize(&state, &req)?;
    let sha256 = sha256.into_inner();
    if !is_sha256_hex(&sha256) {
        return Err(Rejection::bad_request(
            "bad_path",
            "the URL must end in a lowercase hex sha256",
        )
        .into());
    }
    let db_state = state.clone();
    let upload = web::block(move || db_state.db.upload(&sha256))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let Some(upload) = upload else {
        return Err(
            Rejection::new(404, "not_found", "no blob with this sha256 was uploaded").into()
        );
    };
    Ok(HttpResponse::Ok().json(BlobReply {
        hashes: upload.hashes(),
        sha256: upload.sha256,
        length: upload.length as u64,
    }))
}

pub async fn put_metadata(
    state: web::Data<AppState>,
    req: HttpRequest,
    role: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    authorize(&state, &req)?;
    let role = role.into_inner();
    let limit = if role == "root" { MAX_ROOT_BYTES } else { state.config.max_metadata_bytes };
    let bytes = read_limited(&req, payload, limit, &role).await?;
    let upload = if role == "root" { Upload::Root(bytes) } else { Upload::Targets { role, bytes } };
    let publish_state = state.clone();
    let outcome = web::block(move || publish(&publish_state, upload))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(outcome))
}

async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>> {
    if declared_length(req).is_some_and(|n| n > limit) {
        return Err(Rejection::too_large(what, limit).into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Rejection::bad_request("bad_upload", e))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(Rejection::too_large(what, limit).into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
