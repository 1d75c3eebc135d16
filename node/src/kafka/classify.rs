use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What to do about a Kafka failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again (with backoff): broker down, leader moving, timeouts, throttling.
    Retriable,
    /// Retrying the same thing cannot help until someone changes something: authorization,
    /// invalid configuration, a record too large for the target, an unknown partition on the
    /// target. Reported in status; the partition backs off at the longest interval.
    Fatal,
}

/// Sorts a librdkafka error into [`ErrorClass`].
pub fn classify(error: &KafkaError) -> ErrorClass {
    let Some(code) = error.rdkafka_error_code() else {
        // Errors without a broker/librdkafka code are client-side misuse (bad config, NUL bytes).
        return match error {
            KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_) => ErrorClass::Fatal,
            _ => ErrorClass::Retriable,
        };
    };
    use RDKafkaErrorCode as C;
    match code {
        C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::TransactionalIdAuthorizationFailed
        | C::SaslAuthenticationFailed
        | C::Authentication
        | C::MessageSizeTooLarge
        | C::InvalidConfig
        | C::InvalidRecord
        | C::UnsupportedVersion
        | C::UnsupportedFeature
        | C::InvalidArgument => ErrorClass::Fatal,
        // The producer is in a fatal state (e.g. it kept the gapless guarantee after another
        // partition's batch was refused): the producer actor replaces it within a second, so a
        // record refused for this reason goes through the next producer.
        C::Fatal => ErrorClass::Retriable,
        // Everything else, purges after a lost lease included, may succeed later. UnknownPartition
        // too: a remote topic grown after its source is there before the producer's metadata
        // shows it (the producer refreshes it: see replication/producer.rs).
        _ => ErrorClass::Retriable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_usual_errors() {
        let transient = KafkaError::MessageProduction(RDKafkaErrorCode::BrokerTransportFailure);
        assert_eq!(classify(&transient), ErrorClass::Retriable);
        let timeout = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert_eq!(classify(&timeout), ErrorClass::Retriable);
        let too_large = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        assert_eq!(classify(&too_large), ErrorClass::Fatal);
        let denied = KafkaError::MessageConsumption(RDKafkaErrorCode::TopicAuthorizationFailed);
        assert_eq!(classify(&denied), ErrorClass::Fatal);
        let grown = KafkaError::MessageProduction(RDKafkaErrorCode::UnknownPartition);
        assert_eq!(classify(&grown), ErrorClass::Retriable);
        let producer_replaced = KafkaError::MessageProduction(RDKafkaErrorCode::Fatal);
        assert_eq!(classify(&producer_replaced), ErrorClass::Retriable);
        let purged = KafkaError::MessageProduction(RDKafkaErrorCode::PurgeQueue);
        assert_eq!(classify(&purged), ErrorClass::Retriable);
    }
}
