//! Optional bearer-token authentication: of the control API (an interceptor), and of membership
//! changes through the Raft transport (`Join`, `Leave`), which are checked against the same
//! `[cluster] control_token`.

use thiserror::Error;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Why a call's token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TokenRefusal {
    #[error("missing control token")]
    Missing,
    #[error("wrong control token")]
    Wrong,
}

/// Checks `authorization: Bearer <token>` when a token is configured; lets everything through when
/// none is.
#[derive(Clone)]
pub struct BearerAuth {
    expected: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl BearerAuth {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            expected: token.map(|t| bearer(t).expect("a validated token is a valid header value")),
        }
    }

    /// Whether `metadata` carries the configured token (always, when none is configured).
    pub fn verify(&self, metadata: &MetadataMap) -> Result<(), TokenRefusal> {
        let Some(expected) = &self.expected else {
            return Ok(());
        };
        match metadata.get("authorization") {
            Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
            Some(_) => Err(TokenRefusal::Wrong),
            None => Err(TokenRefusal::Missing),
        }
    }

    /// [`BearerAuth::verify`] for a membership change (`what`: "join" or "leave" and whom), as
    /// the `Unauthenticated` status the caller gets: it says whether the token was missing or
    /// wrong, and where a node or the CLI takes it from.
    pub fn verify_membership<T>(&self, request: &Request<T>, what: &str) -> Result<(), Status> {
        self.verify(request.metadata()).map_err(|refusal| {
            let how = match refusal {
                TokenRefusal::Missing => {
                    "this cluster requires its control token (`authorization: Bearer <token>`)"
                }
                TokenRefusal::Wrong => "the bearer token is not this cluster's",
            };
            Status::unauthenticated(format!(
                "{refusal}: {what} refused, nothing changed: {how} (a joining node sends its own \
                 `control_token`, which must be the cluster's; `strait leave` sends --token or \
                 STRAIT_CONTROL_TOKEN)"
            ))
        })
    }
}

/// `Bearer <token>` as a header value; `None` when the token cannot be one.
pub fn bearer(token: &str) -> Option<MetadataValue<tonic::metadata::Ascii>> {
    format!("Bearer {token}").parse().ok()
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match self.verify(request.metadata()) {
            Ok(()) => Ok(request),
            Err(TokenRefusal::Wrong) => Err(Status::unauthenticated(
                "the bearer token is not this cluster's",
            )),
            Err(TokenRefusal::Missing) => Err(Status::unauthenticated(
                "this cluster requires `authorization: Bearer <token>` on control calls",
            )),
        }
    }
}

/// Compares without an early exit on the first differing byte, so that timing does not reveal a
/// prefix of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().unwrap());
        }
        request
    }

    fn call(auth: &mut BearerAuth, header: Option<&str>) -> Result<(), tonic::Code> {
        auth.call(request(header)).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn open_without_a_token() {
        let mut auth = BearerAuth::new(None);
        assert_eq!(call(&mut auth, None), Ok(()));
        assert_eq!(call(&mut auth, Some("Bearer anything")), Ok(()));
        assert_eq!(
            auth.verify_membership(&request(None), "join")
                .map_err(|s| s.code()),
            Ok(())
        );
    }

    #[test]
    fn checks_the_token_when_set() {
        let mut auth = BearerAuth::new(Some("0123456789abcdef"));
        assert_eq!(call(&mut auth, Some("Bearer 0123456789abcdef")), Ok(()));
        assert_eq!(
            call(&mut auth, Some("Bearer 0123456789abcdeX")),
            Err(tonic::Code::Unauthenticated)
        );
        assert_eq!(call(&mut auth, None), Err(tonic::Code::Unauthenticated));
    }

    #[test]
    fn membership_refusals_say_missing_or_wrong() {
        let auth = BearerAuth::new(Some("0123456789abcdef"));
        let refusal = |header| {
            let status = auth
                .verify_membership(&request(header), "join of node 4")
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
            status.message().to_owned()
        };
        let missing = refusal(None);
        assert!(
            missing.starts_with("missing control token: join of node 4 refused, nothing changed"),
            "{missing}"
        );
        let wrong = refusal(Some("Bearer 0123456789abcdeX"));
        assert!(
            wrong.starts_with("wrong control token: join of node 4 refused, nothing changed"),
            "{wrong}"
        );
        assert!(
            !wrong.contains("0123456789abcde"),
            "never echoes a token: {wrong}"
        );
        assert_eq!(
            auth.verify_membership(&request(Some("Bearer 0123456789abcdef")), "join")
                .map_err(|s| s.code()),
            Ok(())
        );
    }
}
