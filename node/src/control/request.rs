//! Checking requests at the edge: each helper turns a proto field into a domain value or an
//! `InvalidArgument` naming the field and the reason.

use strait_coordinator::raft::ProposeError;
use strait_coordinator::state::ApplyOutcome;
use strait_coordinator::{FlowId, NodeId};
use tonic::Status;

pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {reason}"))
}

/// A required `SOURCE->TARGET` flow name.
pub fn flow(field: &str, value: &str) -> Result<FlowId, Status> {
    if value.trim().is_empty() {
        return Err(invalid(
            field,
            "must not be empty (a flow is named SOURCE->TARGET)",
        ));
    }
    value.trim().parse().map_err(|e| invalid(field, e))
}

/// An optional flow filter: empty matches every flow.
pub fn flow_filter(field: &str, value: &str) -> Result<Option<FlowId>, Status> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        flow(field, value).map(Some)
    }
}

/// A required node id.
pub fn node_id(field: &str, value: u64) -> Result<NodeId, Status> {
    if value == 0 {
        Err(invalid(field, "must be a node id (not 0)"))
    } else {
        Ok(value)
    }
}

/// A Kafka topic name: 1 to 249 of `[a-zA-Z0-9._-]`.
pub fn topic(field: &str, value: &str) -> Result<String, Status> {
    let ok = (1..=249).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(value.to_owned())
    } else if value.is_empty() {
        Err(invalid(field, "must not be empty"))
    } else {
        Err(invalid(
            field,
            format!("{value:?} is not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)"),
        ))
    }
}

pub fn partition(field: &str, value: i32) -> Result<i32, Status> {
    if value < 0 {
        Err(invalid(field, format!("{value} is negative")))
    } else {
        Ok(value)
    }
}

/// `HOST:PORT`, checked as the configuration checks a node's address.
pub fn address(field: &str, value: &str) -> Result<String, Status> {
    strait_config::parse_address(value)
        .map_err(|expected| invalid(field, format!("{value:?}: expected {expected}")))
}

/// A configuration format: `toml` or `properties`.
pub fn config_format(field: &str, value: &str) -> Result<strait_config::Format, Status> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must be \"toml\" or \"properties\""));
    }
    strait_config::Format::of_name(value.trim()).ok_or_else(|| {
        invalid(
            field,
            format!("{value:?} is not \"toml\" or \"properties\" (mm2.properties)"),
        )
    })
}

/// A proposal that did not reach a committed entry: retry later.
pub fn unavailable(error: ProposeError) -> Status {
    match error {
        ProposeError::Rejected(reason) => Status::internal(format!("raft rejected it: {reason}")),
        other => Status::unavailable(format!("{other}; retry")),
    }
}

/// What the state machine said about a committed command.
pub fn applied(outcome: ApplyOutcome) -> Result<(), Status> {
    match outcome {
        ApplyOutcome::Applied => Ok(()),
        ApplyOutcome::Partial { skipped, .. } => Err(Status::failed_precondition(
            skipped
                .iter()
                .map(|s| format!("{}: {}", s.key, s.reason))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        ApplyOutcome::Stale(reason) => Err(Status::failed_precondition(reason)),
        ApplyOutcome::Rejected(reason) => Err(Status::invalid_argument(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_in_errors() {
        let e = flow("flow", "").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(
            e.message().starts_with("flow: must not be empty"),
            "{}",
            e.message()
        );
        assert!(flow("flow", "A->A").is_err());
        assert_eq!(flow("flow", " A->B ").unwrap().to_string(), "A->B");
        assert!(topic("topic", "bad topic")
            .unwrap_err()
            .message()
            .contains("topic:"));
        assert!(node_id("node_id", 0).is_err());
        assert!(partition("partition", -1).is_err());
        assert!(address("address", "host").is_err());
        assert!(address("address", "host:0").is_err());
        assert_eq!(address("address", "host:7070").unwrap(), "host:7070");
        assert_eq!(
            config_format("format", "TOML").unwrap(),
            strait_config::Format::Toml
        );
        assert!(config_format("format", "yaml")
            .unwrap_err()
            .message()
            .starts_with("format: "));
        assert!(config_format("format", "").is_err());
    }
}
