//! Reading request bodies with a limit. A body over the limit is still read (and
//! dropped) up to a few times the limit before the answer, so a client that is still
//! sending sees the 413 and its reason instead of a broken connection.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// How many times the limit is read and dropped before giving up on the connection.
const DRAIN_FACTOR: usize = 4;

/// Reads `body` whole when it has at most `limit` bytes.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut buffer = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buffer.extend_from_slice(&data);
        } else if seen > limit.saturating_mul(DRAIN_FACTOR) {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError::TooLarge {
            message: format!("the request body is larger than the limit of {limit} bytes"),
            details: Vec::new(),
        });
    }
    Ok(buffer.freeze())
}
