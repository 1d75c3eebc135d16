//! The gRPC port answers the way tools expect with no .proto at hand: server reflection (v1alpha,
//! what grpcurl 1.8 asks for, and v1) lists Strait's services, and the standard health service
//! says SERVING once the node holds its lease in the cluster. No broker is needed.

use std::time::{Duration, Instant};

use strait_tests::config::Config;
use strait_tests::strait::temp_dir;
use strait_tests::Strait;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1alpha::ServerReflectionRequest;

const DEADLINE: Duration = Duration::from_secs(30);

async fn channel(endpoint: &str) -> Result<tonic::transport::Channel, String> {
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())
}

/// The services reflection lists, or an error to retry on.
async fn list_services(endpoint: &str) -> Result<Vec<String>, String> {
    let mut client = ServerReflectionClient::new(channel(endpoint).await?);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    let response = responses
        .message()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no reflection response")?;
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => Err(format!("unexpected reflection response {other:?}")),
    }
}

async fn health(endpoint: &str, service: &str) -> Result<ServingStatus, String> {
    let mut client = HealthClient::new(channel(endpoint).await?);
    let response = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.into_inner().status())
}

#[tokio::test]
async fn reflection_lists_the_services_and_health_is_serving() {
    let data_dir = temp_dir("strait-grpc-");
    // Clusters that do not exist: the gRPC side works without them.
    let config = Config::a_to_b("127.0.0.1:1", "127.0.0.1:2", data_dir.path(), &["t-.*"]);
    let node = Strait::start(&config.toml(), "toml");
    let endpoint = format!("http://127.0.0.1:{}", config.cluster_port);

    let started = Instant::now();
    let services = loop {
        match list_services(&endpoint).await {
            Ok(services) => break services,
            Err(error) if started.elapsed() < DEADLINE => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("reflection never answered: {error}\n{}", node.log()),
        }
    };
    for expected in [
        "strait.v1.Status",
        "strait.v1.Config",
        "strait.v1.Verify",
        "strait.raft.v1.RaftTransport",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.iter().any(|s| s == expected),
            "{expected} missing from {services:?}"
        );
    }

    loop {
        let overall = health(&endpoint, "").await;
        let status = health(&endpoint, "strait.v1.Status").await;
        if overall == Ok(ServingStatus::Serving) && status == Ok(ServingStatus::Serving) {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "health never SERVING: overall {overall:?}, strait.v1.Status {status:?}\n{}",
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
