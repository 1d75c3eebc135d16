//! IncrementalAlterConfigs (KIP-339) for topic configs.
//!
//! The rdkafka crate wraps only the legacy AlterConfigs, which replaces a topic's whole config (and
//! which newer brokers, and Tansu, do not offer). librdkafka has the incremental call; this file is
//! the small unsafe bridge to it. It blocks the calling thread: call it from `spawn_blocking`.

use std::ffi::{CStr, CString};
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// One change to a topic config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    /// Sets `name` to `value` on the topic.
    Set { name: String, value: String },
    /// Removes the topic's own value of `name`: the broker's default applies again.
    Delete { name: String },
}

/// Applies `ops` to `topic` in one request, leaving every other config of the topic as it is.
pub fn incremental_alter_topic_configs<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    ops: &[ConfigOp],
    timeout: Duration,
) -> Result<(), KafkaError> {
    if ops.is_empty() {
        return Ok(());
    }
    let invalid =
        |what: &str| KafkaError::AdminOpCreation(format!("{what} contains a NUL byte: {topic:?}"));
    let c_topic = CString::new(topic).map_err(|_| invalid("topic name"))?;
    let c_ops: Vec<(CString, rd::rd_kafka_AlterConfigOpType_t, Option<CString>)> = ops
        .iter()
        .map(|op| {
            Ok(match op {
                ConfigOp::Set { name, value } => (
                    CString::new(name.as_str())?,
                    rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                    Some(CString::new(value.as_str())?),
                ),
                ConfigOp::Delete { name } => (
                    CString::new(name.as_str())?,
                    rd::rd_kafka_AlterConfigOpType_t::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                    None,
                ),
            })
        })
        .collect::<Result<_, std::ffi::NulError>>()
        .map_err(|_| invalid("topic config"))?;
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;

    // SAFETY: every pointer below is created here, checked for null, used only while its owner is
    // alive, and destroyed exactly once by the guards at the end of this function.
    unsafe {
        let rk = client.native_ptr();
        let resource = rd::rd_kafka_ConfigResource_new(
            rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC,
            c_topic.as_ptr(),
        );
        if resource.is_null() {
            return Err(KafkaError::AdminOpCreation(
                "cannot create a config resource".into(),
            ));
        }
        for (name, op, value) in &c_ops {
            // DELETE takes no value (NULL).
            let value = value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
            let error = rd::rd_kafka_ConfigResource_add_incremental_config(
                resource,
                name.as_ptr(),
                *op,
                value,
            );
            if !error.is_null() {
                let message = CStr::from_ptr(rd::rd_kafka_error_string(error))
                    .to_string_lossy()
                    .into_owned();
                rd::rd_kafka_error_destroy(error);
                rd::rd_kafka_ConfigResource_destroy(resource);
                return Err(KafkaError::AdminOpCreation(message));
            }
        }

        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
        );
        let mut errstr = [0 as std::os::raw::c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        let queue = rd::rd_kafka_queue_new(rk);
        let mut resources = [resource];
        rd::rd_kafka_IncrementalAlterConfigs(rk, resources.as_mut_ptr(), 1, options, queue);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_ConfigResource_destroy(resource);

        // The request's own timeout fires before this one; the margin covers scheduling.
        let event = rd::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(5_000));
        let result = if event.is_null() {
            Err(KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut))
        } else {
            let outcome = check_event(event);
            rd::rd_kafka_event_destroy(event);
            outcome
        };
        rd::rd_kafka_queue_destroy(queue);
        result
    }
}

/// # Safety
/// `event` must be a live IncrementalAlterConfigs result event.
unsafe fn check_event(event: *mut rd::rd_kafka_event_t) -> Result<(), KafkaError> {
    let code = rd::rd_kafka_event_error(event);
    if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(KafkaError::AdminOp(code.into()));
    }
    let result = rd::rd_kafka_event_IncrementalAlterConfigs_result(event);
    if result.is_null() {
        return Err(KafkaError::AdminOpCreation(
            "unexpected event type for IncrementalAlterConfigs".into(),
        ));
    }
    let mut count = 0usize;
    let resources = rd::rd_kafka_IncrementalAlterConfigs_result_resources(result, &mut count);
    let resources: &[*const rd::rd_kafka_ConfigResource_t] = if resources.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(resources, count)
    };
    for resource in resources {
        let code = rd::rd_kafka_ConfigResource_error(*resource);
        if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let detail = rd::rd_kafka_ConfigResource_error_string(*resource);
            let detail = if detail.is_null() {
                String::new()
            } else {
                CStr::from_ptr(detail).to_string_lossy().into_owned()
            };
            tracing::debug!(%detail, "incremental alter configs failed");
            return Err(KafkaError::AdminOp(code.into()));
        }
    }
    Ok(())
}
