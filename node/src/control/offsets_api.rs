//! `strait.v1.Offsets`: translating consumer offsets from the source to the target.

use strait_proto::v1::offsets_server::Offsets;
use strait_proto::v1::{TranslateOffsetsRequest, TranslateOffsetsResponse};
use tonic::{Request, Response, Status};

use super::request;
use super::Control;

pub struct OffsetsApi {
    pub control: Control,
}

#[tonic::async_trait]
impl Offsets for OffsetsApi {
    async fn translate_offsets(
        &self,
        request: Request<TranslateOffsetsRequest>,
    ) -> Result<Response<TranslateOffsetsResponse>, Status> {
        let r = request.into_inner();
        let flow = request::flow("flow", &r.flow)?;
        self.control.flow("flow", &flow)?;
        Err(Status::unimplemented("offset translation is not built yet"))
    }
}
