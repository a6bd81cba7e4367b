//! A fault-injecting HTTP proxy on loopback, between drctl and the
//! emulator. Each request is forwarded, or answered with an injected fault
//! at a given rate: added latency, a throttling 503, a 500, or a dropped
//! connection, all before the request reaches the emulator. A fault after
//! the fact is injected too: a create is forwarded, the emulator acts, and
//! its response is dropped (`lose_create_responses`), as when a connection
//! breaks after AWS has acted. Requests and faults are counted.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What to inject, and how often.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Fraction of requests answered with a fault instead of forwarded.
    pub rate: f64,
    /// Added to every forwarded request.
    pub latency: Duration,
    /// Seed of the fault sequence (printed by tests, for reproduction).
    pub seed: u64,
    /// Every EC2 request with this `Action` is refused with a permanent
    /// error (400 InvalidParameterValue), as AWS refuses a bad request.
    pub reject_ec2_action: Option<String>,
    /// Every request whose bytes contain the first string (an EC2
    /// `Action=DeleteVpcEndpoints&`, S3 DeleteObjects' `?delete HTTP/1.1`) is
    /// answered 200 with the second, a document, instead of reaching the
    /// emulator: a response the emulator never gives, such as a partial
    /// failure.
    pub answer: Option<(String, String)>,
    /// Fraction of create calls (`create_call`) forwarded to the emulator
    /// whose response is then dropped: the resource exists, the client sees
    /// a broken connection.
    pub lose_create_responses: f64,
    /// Requests signed for any of these regions or services (the SigV4
    /// credential scope) are not forwarded: the connection closes with no
    /// response, as when an endpoint is unreachable (a region outage).
    pub unreachable: Vec<String>,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            rate: 0.0,
            latency: Duration::ZERO,
            seed: 0,
            reject_ec2_action: None,
            answer: None,
            lose_create_responses: 0.0,
            unreachable: Vec::new(),
        }
    }

    /// No faults, only `latency` on every request (to widen timing windows).
    pub fn slow(latency: Duration) -> Faults {
        Faults {
            latency,
            ..Faults::none()
        }
    }
}

#[derive(Default, Debug)]
pub struct Counts {
    pub requests: AtomicUsize,
    pub forwarded: AtomicUsize,
    /// Forwarded requests whose response has reached the client.
    pub answered: AtomicUsize,
    pub throttled: AtomicUsize,
    pub errors: AtomicUsize,
    pub dropped: AtomicUsize,
    pub rejected: AtomicUsize,
    /// Create calls the emulator acted on whose response was dropped.
    pub lost: AtomicUsize,
    /// The operations of those, one entry per lost response.
    pub lost_operations: Mutex<Vec<String>>,
    /// Every request, in arrival order.
    pub calls: Mutex<Vec<Call>>,
}

/// One request as the proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// From the SigV4 credential scope (`-` when unsigned).
    pub service: String,
    pub region: String,
    /// `X-Amz-Target`'s operation, a query `Action`, or `METHOD /path`.
    pub operation: String,
    /// Not forwarded: its region or service was unreachable.
    pub refused: bool,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<10} {:<10} {}{}",
            self.service,
            self.region,
            self.operation,
            if self.refused { "  (refused)" } else { "" }
        )
    }
}

/// The service, region and operation of a raw HTTP request.
pub fn describe(request: &[u8]) -> (String, String, String) {
    let text = String::from_utf8_lossy(request);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let scope: Vec<String> = header("authorization")
        .and_then(|a| {
            a.split("Credential=")
                .nth(1)
                .map(|c| c.split([',', ' ']).next().unwrap_or_default().to_owned())
        })
        .map(|c| c.split('/').map(str::to_owned).collect())
        .unwrap_or_default();
    let (region, service) = match scope.as_slice() {
        [_, _, region, service, ..] => (region.clone(), service.clone()),
        _ => ("-".to_owned(), "-".to_owned()),
    };
    let request_line = head.lines().next().unwrap_or_default();
    let operation = if let Some(target) = header("x-amz-target") {
        target.rsplit('.').next().unwrap_or_default().to_owned()
    } else if let Some(action) = text.split("Action=").nth(1) {
        action
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect()
    } else {
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default();
        let path = parts.next().unwrap_or_default();
        format!("{method} {}", path.split('?').next().unwrap_or_default())
    };
    (service, region, operation)
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    pub counts: Arc<Counts>,
    faults: Arc<Mutex<(Faults, u64)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// xorshift64*: a tiny deterministic generator, enough for fault decisions.
fn next(state: &mut u64) -> f64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on the current
    /// tokio runtime.
    pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let counts = Arc::new(Counts::default());
        let seed = faults.seed.max(1);
        let faults = Arc::new(Mutex::new((faults, seed)));
        let (c, f) = (Arc::clone(&counts), Arc::clone(&faults));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (c, f, upstream) = (Arc::clone(&c), Arc::clone(&f), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &upstream, &c, &f).await;
                });
            }
        });
        FaultProxy {
            endpoint,
            counts,
            faults,
            task,
        }
    }

    /// Changes the faults from now on.
    pub fn set(&self, faults: Faults) {
        let seed = faults.seed.max(1);
        *self.faults.lock().unwrap() = (faults, seed);
    }

    pub fn requests(&self) -> usize {
        self.counts.requests.load(Ordering::SeqCst)
    }

    pub fn faults_injected(&self) -> usize {
        self.counts.throttled.load(Ordering::SeqCst)
            + self.counts.errors.load(Ordering::SeqCst)
            + self.counts.dropped.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 request (head and body) as raw bytes.
async fn read_request(reader: &mut BufReader<&mut TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let end = line == b"\r\n";
        head.extend_from_slice(&line);
        if end {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let header = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_owned())
        })
    };
    let mut request = head.clone();
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        request.extend_from_slice(&body);
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size_line = Vec::new();
            reader.read_until(b'\n', &mut size_line).await?;
            request.extend_from_slice(&size_line);
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&size_line)
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or("0"),
                16,
            )
            .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            request.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    }
    Ok(Some(request))
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    counts: &Counts,
    faults: &Mutex<(Faults, u64)>,
) -> std::io::Result<()> {
    let request = {
        let mut reader = BufReader::new(&mut client);
        match read_request(&mut reader).await? {
            Some(r) => r,
            None => return Ok(()),
        }
    };
    counts.requests.fetch_add(1, Ordering::SeqCst);
    let (service, region, operation) = describe(&request);
    let refused = {
        let guard = faults.lock().unwrap();
        guard
            .0
            .unreachable
            .iter()
            .any(|u| *u == service || *u == region)
    };
    counts.calls.lock().unwrap().push(Call {
        service,
        region,
        operation,
        refused,
    });
    if refused {
        counts.dropped.fetch_add(1, Ordering::SeqCst);
        drop(client);
        return Ok(());
    }
    let (latency, roll, kind, reject, answer, lose) = {
        let mut guard = faults.lock().unwrap();
        let (f, state) = &mut *guard;
        let roll = next(state);
        let kind = next(state);
        let is_action = |action: &str| {
            let needle = format!("Action={action}&");
            request
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        };
        let reject = f.reject_ec2_action.as_deref().is_some_and(is_action);
        let answer = f
            .answer
            .as_ref()
            .filter(|(needle, _)| {
                request
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            })
            .map(|(_, body)| body.clone());
        let lose = create_call(&request).filter(|_| next(state) < f.lose_create_responses);
        (f.latency, roll < f.rate, kind, reject, answer, lose)
    };
    if let Some(body) = answer {
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\nx-amzn-requestid: injected\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(response.as_bytes()).await?;
        return client.shutdown().await;
    }
    if reject {
        counts.rejected.fetch_add(1, Ordering::SeqCst);
        // EC2's error document (the EC2 query protocol), with the request
        // id header AWS and moto send.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>InvalidParameterValue</Code><Message>rejected by the test proxy</Message></Error></Errors><RequestID>injected</RequestID></Response>";
        let response = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/xml\r\nx-amzn-requestid: injected\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(response.as_bytes()).await?;
        return Ok(());
    }
    if roll {
        if kind < 0.4 {
            counts.throttled.fetch_add(1, Ordering::SeqCst);
            let body = "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded (injected)</Message></Error></ErrorResponse>";
            let response = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/xml\r\nx-amzn-errortype: ThrottlingException\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes()).await?;
        } else if kind < 0.7 {
            counts.errors.fetch_add(1, Ordering::SeqCst);
            let body = "<ErrorResponse><Error><Code>InternalError</Code><Message>injected</Message></Error></ErrorResponse>";
            let response = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes()).await?;
        } else {
            // Dropped before reaching the emulator: the connection closes
            // with no response at all.
            counts.dropped.fetch_add(1, Ordering::SeqCst);
            drop(client);
        }
        return Ok(());
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    counts.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request).await?;
    // The emulator closes each connection after its response.
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;
    if let Some(operation) = lose {
        // The emulator has acted; the client never hears of it.
        counts.lost.fetch_add(1, Ordering::SeqCst);
        counts.lost_operations.lock().unwrap().push(operation);
        drop(client);
        return Ok(());
    }
    client.write_all(&response).await?;
    counts.answered.fetch_add(1, Ordering::SeqCst);
    client.shutdown().await
}

/// The create operation a request is, if it is one: an EC2/IAM/SNS/RDS
/// query `Action` that creates, a JSON `X-Amz-Target` that creates, or a
/// REST call that does (Lambda, API Gateway, Route 53, S3 CreateBucket).
pub fn create_call(request: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(request);
    let creates = |op: &str| {
        [
            "Create",
            "Allocate",
            "Associate",
            "Subscribe",
            "AddPermission",
            "PutParameter",
        ]
        .iter()
        .any(|p| op.starts_with(p))
    };
    if let Some(action) = text.split("Action=").nth(1) {
        let op: String = action
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        return creates(&op).then_some(op);
    }
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    if let Some(target) = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with("x-amz-target:")
            .then(|| l.to_owned())
    }) {
        let op = target
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        return creates(&op).then_some(op);
    }
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, path) = (parts.next()?, parts.next()?);
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let op = match (method, segments.as_slice()) {
        ("POST", ["2015-03-31", "functions"]) => "lambda:CreateFunction",
        ("POST", ["2015-03-31", "functions", _, "policy"]) => "lambda:AddPermission",
        ("POST", ["restapis"]) => "apigateway:CreateRestApi",
        ("POST", ["restapis", _, "resources", _]) => "apigateway:CreateResource",
        ("PUT", ["restapis", _, "resources", _, "methods", _]) => "apigateway:PutMethod",
        ("POST", ["restapis", _, "deployments"]) => "apigateway:CreateDeployment",
        ("POST", ["restapis", _, "stages"]) => "apigateway:CreateStage",
        ("POST", ["2013-04-01", "hostedzone"]) => "route53:CreateHostedZone",
        ("POST", ["2013-04-01", "healthcheck"]) => "route53:CreateHealthCheck",
        // Path-style S3: PUT /bucket with no subresource query.
        ("PUT", [bucket]) if !bucket.is_empty() && !line.contains('?') => "s3:CreateBucket",
        _ => return None,
    };
    Some(op.to_owned())
}
