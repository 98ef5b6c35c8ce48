//! The `/health` and `/metrics` server: a few lines of HTTP/1.1 on tokio.
//!
//! Kubelets and Prometheus send one small GET and read one answer; a full HTTP server crate
//! would add a dependency for that. Each connection gets one answer and is closed
//! (`Connection: close`); requests are read under a size cap and a timeout, and connections
//! beyond a small number at once are turned away, so a misbehaving client cannot hold the
//! connector's memory or tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::status::Status;

/// The largest request head read; a probe's is a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve /health and /metrics on {addr}: {reason}; fix: choose a free port (metrics_addr, METRICS_ADDR or --metrics-addr; under the Sekoia runtime, liveness_port and metrics_port)")]
pub struct BindError {
    pub addr: SocketAddr,
    pub reason: String,
}

/// The running server; stops when dropped.
pub struct Server {
    addrs: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

#[cfg(test)]
impl Server {
    /// The addresses actually bound (a port 0 becomes the port chosen).
    fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Listens on every address of `addrs` (duplicates once) and answers from `status`.
pub async fn start(addrs: &[SocketAddr], status: Status) -> Result<Server, BindError> {
    let mut unique: Vec<SocketAddr> = Vec::new();
    for addr in addrs {
        if !unique.contains(addr) {
            unique.push(*addr);
        }
    }
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut server = Server {
        addrs: Vec::new(),
        tasks: Vec::new(),
    };
    for addr in unique {
        let listener = TcpListener::bind(addr).await.map_err(|e| BindError {
            addr,
            reason: e.to_string(),
        })?;
        server.addrs.push(listener.local_addr().unwrap_or(addr));
        let (status, permits) = (status.clone(), permits.clone());
        server
            .tasks
            .push(tokio::spawn(accept_loop(listener, status, permits)));
    }
    Ok(server)
}

async fn accept_loop(listener: TcpListener, status: Status, permits: Arc<Semaphore>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // A transient accept error (too many open files): try again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let status = status.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READ_TIMEOUT * 2, serve(stream, &status)).await;
            drop(permit);
        });
    }
}

async fn serve(mut stream: TcpStream, status: &Status) -> std::io::Result<()> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        _ => return Ok(()),
    };
    let reply = answer(&head, status);
    stream.write_all(&reply.to_bytes()).await?;
    stream.shutdown().await
}

/// Reads until the end of the request head; `None` when the client closed first or sent more
/// than [`MAX_REQUEST_BYTES`] without ending it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = find(&buffer, b"\r\n\r\n").or_else(|| find(&buffer, b"\n\n")) {
            return Ok(Some(String::from_utf8_lossy(&buffer[..end]).into_owned()));
        }
        if buffer.len() > MAX_REQUEST_BYTES {
            return Ok(None);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// HEAD: the headers of a GET, no body.
    pub head_only: bool,
}

impl Reply {
    fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string(),
            head_only: false,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Internal Server Error",
        };
        let allow = if self.status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut bytes = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

/// The answer to a request head: `/health`, `/metrics`, or an error.
pub fn answer(head: &str, status: &Status) -> Reply {
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Reply::json(
            400,
            &serde_json::json!({"status_code": 400, "reason": "Bad request"}),
        );
    };
    if !version.starts_with("HTTP/1.") {
        return Reply::json(
            400,
            &serde_json::json!({"status_code": 400, "reason": "Bad request"}),
        );
    }
    let path = target.split('?').next().unwrap_or("");
    let mut reply = match path {
        "/health" | "/metrics" if !matches!(method, "GET" | "HEAD") => Reply::json(
            405,
            &serde_json::json!({"status_code": 405, "reason": "Only GET and HEAD are allowed"}),
        ),
        "/health" => {
            let (alive, document) = status.health();
            Reply::json(if alive { 200 } else { 500 }, &document)
        }
        "/metrics" => Reply {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: status.metrics(),
            head_only: false,
        },
        // The SDK's liveness handler's answer for any other path.
        _ => Reply::json(
            404,
            &serde_json::json!({"status_code": 404, "reason": "Endpoint doesn't exist"}),
        ),
    };
    reply.head_only = method == "HEAD";
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn status() -> Status {
        Status::new(Arc::new(ManualClock::new(
            "2026-03-01T12:00:00Z".parse().unwrap(),
        )))
    }

    #[test]
    fn routes() {
        let status = status();
        let health = answer("GET /health HTTP/1.1\r\nHost: x", &status);
        assert_eq!(
            (health.status, health.content_type),
            (200, "application/json")
        );
        let document: serde_json::Value = serde_json::from_str(&health.body).unwrap();
        assert_eq!(document["error_count"], 0);
        let metrics = answer("GET /metrics?x=1 HTTP/1.0", &status);
        assert_eq!(metrics.status, 200);
        assert!(metrics
            .content_type
            .starts_with("text/plain; version=0.0.4"));
        assert!(metrics.body.contains("okta_connector_info{version="));
        assert_eq!(answer("GET / HTTP/1.1", &status).status, 404);
        assert_eq!(answer("POST /health HTTP/1.1", &status).status, 405);
        assert_eq!(answer("garbage", &status).status, 400);
        let head = answer("HEAD /health HTTP/1.1", &status);
        let bytes = String::from_utf8(head.to_bytes()).unwrap();
        assert!(bytes.ends_with("\r\n\r\n"), "{bytes}");
        assert!(bytes.contains(&format!("Content-Length: {}", head.body.len())));
    }

    #[tokio::test]
    async fn serves_over_tcp_and_refuses_a_port_in_use() {
        let server = start(&["127.0.0.1:0".parse().unwrap()], status())
            .await
            .unwrap();
        let addr = server.addrs()[0];
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\"last_heartbeat\""), "{answer}");

        let error = start(&[addr], status()).await.err().expect("in use");
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }
}
