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
        match (r.group.trim().is_empty(), r.offsets.is_empty()) {
            (true, true) => {
                return Err(request::invalid(
                    "group",
                    "name a consumer group, or list offsets",
                ))
            }
            (false, false) => {
                return Err(request::invalid(
                    "offsets",
                    "give either a group or offsets, not both",
                ))
            }
            _ => {}
        }
        for (i, o) in r.offsets.iter().enumerate() {
            request::topic(&format!("offsets[{i}].topic"), &o.topic)?;
            request::partition(&format!("offsets[{i}].partition"), o.partition)?;
            if o.offset < 0 {
                return Err(request::invalid(
                    &format!("offsets[{i}].offset"),
                    format!("{} is negative", o.offset),
                ));
            }
        }
        self.control.flow("flow", &flow)?;
        Err(Status::unimplemented("offset translation is not built yet"))
    }
}
