//! Optional bearer-token authentication of the control API.

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Checks `authorization: Bearer <token>` on every call when a token is configured; lets every
/// call through when none is.
#[derive(Clone)]
pub struct BearerAuth {
    expected: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl BearerAuth {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            expected: token.map(|t| {
                format!("Bearer {t}")
                    .parse()
                    .expect("a validated token is a valid header value")
            }),
        }
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        match request.metadata().get("authorization") {
            Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "the bearer token is not this cluster's",
            )),
            None => Err(Status::unauthenticated(
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

    fn call(auth: &mut BearerAuth, header: Option<&str>) -> Result<(), tonic::Code> {
        let mut request = Request::new(());
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().unwrap());
        }
        auth.call(request).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn open_without_a_token() {
        let mut auth = BearerAuth::new(None);
        assert_eq!(call(&mut auth, None), Ok(()));
        assert_eq!(call(&mut auth, Some("Bearer anything")), Ok(()));
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
}
