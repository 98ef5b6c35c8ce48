//! wiremock shorthands for the tests that fake Okta or the intake at the HTTP level: JSON
//! answers, an answer for every request or for the next few, and what was sent.

use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// `status` with `body` as JSON.
pub fn json_answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

/// A 200 with `body` as JSON.
pub fn json_page(body: Value) -> ResponseTemplate {
    json_answer(200, &body)
}

/// Answers every request with `answer`.
pub async fn answer_always(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(any()).respond_with(answer).mount(server).await;
}

/// Answers the next `times` requests with `answer`; later ones reach the mocks mounted after.
pub async fn answer_first(server: &MockServer, times: u64, answer: ResponseTemplate) {
    Mock::given(any())
        .respond_with(answer)
        .up_to_n_times(times)
        .mount(server)
        .await;
}

/// Every request the server received, in order.
pub async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// The first value of header `name`, as text.
pub fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}
