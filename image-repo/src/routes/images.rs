//! `GET /targets/DIR/HASH.BASENAME`: images streamed from the blob store, with ETag, cache
//! headers, HEAD and single byte ranges.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{json_error, not_modified};
use crate::error::Rejection;
use crate::state::AppState;

const CHUNK: u64 = 256 * 1024;

/// The byte range a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Full,
    /// First and last byte, inclusive.
    Partial(u64, u64),
    Unsatisfiable,
}

/// Parses a single `bytes=` range; anything else (several ranges, garbage) is ignored.
pub fn parse_range(header: Option<&str>, len: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Full };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), parse(first), parse(last)) {
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Range::Unsatisfiable
            } else {
                Range::Partial(len - n.min(len), len - 1)
            }
        }
        (false, Some(a), _) if a >= len => Range::Unsatisfiable,
        (false, Some(a), None) if last.trim().is_empty() => Range::Partial(a, len - 1),
        (false, Some(a), Some(b)) if a <= b => Range::Partial(a, b.min(len - 1)),
        _ => Range::Full,
    }
}

pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    tail: web::Path<String>,
) -> HttpResponse {
    let published = state.published();
    let Some(image) = published.image(&tail).cloned() else {
        return json_error(&Rejection::new(404, "not_found", format!("no image {tail}")));
    };
    let etag = format!("\"{}\"", image.sha256);
    let cache = "public, max-age=31536000, immutable";
    if not_modified(&req, &etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish();
    }
    let len = image.length;
    let range = parse_range(req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()), len);
    let (mut response, start, count) = match range {
        Range::Unsatisfiable => {
            return HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                .finish();
        }
        Range::Full => (HttpResponse::Ok(), 0, len),
        Range::Partial(a, b) => {
            let mut response = HttpResponse::PartialContent();
            response.insert_header((header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}")));
            (response, a, b - a + 1)
        }
    };
    response
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .no_chunking(count);
    if req.method() == actix_web::http::Method::HEAD {
        return response.streaming(futures_util::stream::empty::<Result<Bytes, std::io::Error>>());
    }
    let path = state.blobs.path(&image.sha256);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "published image blob unreadable");
            return json_error(&Rejection::new(500, "internal", "image blob unreadable"));
        }
    };
    if start > 0
        && let Err(e) = file.seek(std::io::SeekFrom::Start(start)).await
    {
        tracing::error!(error = %e, "seek failed");
        return json_error(&Rejection::new(500, "internal", "image blob unreadable"));
    }
    response.streaming(file_stream(file, count))
}

fn file_stream(
    file: tokio::fs::File,
    remaining: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold((file, remaining), |(mut file, remaining)| async move {
        if remaining == 0 {
            return None;
        }
        let mut buf = vec![0u8; remaining.min(CHUNK) as usize];
        match file.read(&mut buf).await {
            Ok(0) => Some((Err(std::io::ErrorKind::UnexpectedEof.into()), (file, 0))),
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
            }
            Err(e) => Some((Err(e), (file, 0))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Range::Full);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Range::Partial(0, 3));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Range::Partial(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Range::Partial(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Range::Partial(0, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Range::Partial(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), Range::Full);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), Range::Full);
    }
}
