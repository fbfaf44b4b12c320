//! Why a webhook request was refused. Messages name what is wrong (a header, a payload
//! field), never the secret or the payload's values beyond a short excerpt.

/// A refused webhook request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No signature or token, or one that does not match the receiver's secret: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// A payload that is not what the provider sends (not JSON, a field missing or of the
    /// wrong type): 400, naming the field.
    #[error("{0}")]
    Malformed(String),
    /// An event this receiver does not act on: 400, naming the events it does.
    #[error("{0}")]
    Unsupported(String),
    /// A generic receiver's action could not be evaluated: 422, naming the field.
    #[error("{0}")]
    Action(String),
}

impl WebhookError {
    /// The HTTP status the request is answered with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::Unauthorized(_) => 401,
            WebhookError::Malformed(_) | WebhookError::Unsupported(_) => 400,
            WebhookError::Action(_) => 422,
        }
    }
}
