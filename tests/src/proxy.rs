//! A fault-injecting HTTP proxy on loopback, between drctl and the
//! emulator. Each request is forwarded, or answered with an injected fault
//! at a given rate: added latency, a throttling 503, a 500, or a dropped
//! connection, all before the request reaches the emulator. A fault after
//! the fact is injected too: a create is forwarded, the emulator acts, and
//! its response is dropped (`lose_create_responses`), as when a connection
//! breaks after AWS has acted. A region or a service can be made
//! unreachable (`Faults::refuse`): its requests are never forwarded and
//! their connections dropped, as when AWS's endpoint is down. Requests
//! and faults are counted, and every request is logged (`Counts::calls`):
//! its service, region and operation, and whether it was refused.

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
    /// Every request whose bytes contain the first string is answered
    /// with the HTTP status and the error document (JSON or XML, as the
    /// service speaks) instead of reaching the emulator: an answer AWS
    /// gives in a race the test cannot time, such as a resource deleted
    /// between its listing and the read that follows.
    pub fail: Option<(String, u16, String)>,
    /// Fraction of create calls (`create_call`) forwarded to the emulator
    /// whose response is then dropped: the resource exists, the client sees
    /// a broken connection.
    pub lose_create_responses: f64,
    /// Fraction of mutating calls (`mutating_call`: every call but a read,
    /// creates included) forwarded to the emulator whose response is then
    /// dropped: AWS deleted, attached, modified or changed records, and the
    /// client sees a broken connection.
    pub lose_mutating_responses: f64,
    /// Endpoints that are down: every request one of these matches (by
    /// its SigV4 credential scope) is read, never forwarded, and its
    /// connection dropped without an answer, as an unreachable endpoint
    /// does; counted in `Counts::refused`.
    pub refuse: Vec<Refused>,
    /// Endpoints that take requests and never answer (a region whose
    /// front ends accept connections but whose service is gone, or a
    /// network that drops the replies): every request one of these
    /// matches is read, never forwarded, and its connection held open
    /// until the client gives up; counted in `Counts::refused` too.
    pub silent: Vec<Refused>,
    /// Every request whose bytes contain the string (an EC2
    /// `Action=CreateRouteTable&`) waits this long before it is forwarded,
    /// whatever becomes of its client: a request AWS acts on after the
    /// process that sent it has died.
    pub hold: Option<(String, Duration)>,
}

/// Requests to refuse, by the region and service of their SigV4
/// credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`):
/// a request matches when each given one is its own. Route 53, IAM and
/// other global services sign for `us-east-1`, so a region of
/// `us-east-1` refuses their calls too (their control planes run there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refused {
    pub region: Option<String>,
    pub service: Option<String>,
}

impl Refused {
    /// Every request signed for `region`.
    pub fn region(region: &str) -> Refused {
        Refused {
            region: Some(region.to_owned()),
            service: None,
        }
    }

    /// Every request signed for `service` (the signing name: `route53`,
    /// `monitoring` for CloudWatch, `rds`, ...), in any region.
    pub fn service(service: &str) -> Refused {
        Refused {
            region: None,
            service: Some(service.to_owned()),
        }
    }

    pub fn matches(&self, call: &Call) -> bool {
        self.region.as_ref().is_none_or(|r| *r == call.region)
            && self.service.as_ref().is_none_or(|s| *s == call.service)
    }
}

/// One request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The SigV4 signing name (`ec2`, `route53`, `monitoring`, ...);
    /// empty for an unsigned request.
    pub service: String,
    /// The region the request was signed for; empty when unsigned.
    pub region: String,
    /// `X-Amz-Target`'s operation (JSON protocols), the `Action` of a
    /// query protocol (body or URL), else `METHOD /path` (REST).
    pub operation: String,
    /// Refused by `Faults::refuse`: never forwarded.
    pub refused: bool,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let service = if self.service.is_empty() {
            "(unsigned)"
        } else {
            &self.service
        };
        write!(f, "{:<14} {:<12} {}", self.region, service, self.operation)?;
        if self.refused {
            write!(f, "  REFUSED")?;
        }
        Ok(())
    }
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            rate: 0.0,
            latency: Duration::ZERO,
            seed: 0,
            reject_ec2_action: None,
            answer: None,
            fail: None,
            lose_create_responses: 0.0,
            lose_mutating_responses: 0.0,
            refuse: Vec::new(),
            silent: Vec::new(),
            hold: None,
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
    /// Requests refused by `Faults::refuse` (dropped, never forwarded).
    pub refused: AtomicUsize,
    /// Requests `Faults::hold` held, and of those, the ones since
    /// forwarded and answered by the emulator.
    pub held: AtomicUsize,
    pub released: AtomicUsize,
    /// Every request received, in the order they arrived.
    pub calls: Mutex<Vec<Call>>,
}

impl Counts {
    /// The call log, one call per line: region, service, operation, and
    /// `REFUSED` for a refused one.
    pub fn call_log(&self) -> String {
        render_calls(&self.calls.lock().unwrap())
    }
}

/// `calls`, one per line (see `Call`'s `Display`).
pub fn render_calls(calls: &[Call]) -> String {
    calls.iter().map(|c| format!("{c}\n")).collect()
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    pub counts: Arc<Counts>,
    faults: Arc<Mutex<(Faults, u64)>>,
    recording: Arc<Recording>,
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
        let recording = Arc::new(Recording::default());
        let (c, f, r) = (
            Arc::clone(&counts),
            Arc::clone(&faults),
            Arc::clone(&recording),
        );
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (c, f, r) = (Arc::clone(&c), Arc::clone(&f), Arc::clone(&r));
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &upstream, &c, &f, &r).await;
                });
            }
        });
        FaultProxy {
            endpoint,
            counts,
            faults,
            recording,
            task,
        }
    }

    /// From now on, keeps the emulator's answer to each forwarded request.
    pub fn record(&self) {
        self.recording.mode.store(RECORD, Ordering::SeqCst);
    }

    /// From now on, answers a request kept by [`FaultProxy::record`] with
    /// what the emulator answered then, after the latency, without the
    /// emulator: what drctl alone costs at that latency. Other requests
    /// are forwarded (counted in `Counts::forwarded`).
    pub fn replay(&self) {
        self.recording.mode.store(REPLAY, Ordering::SeqCst);
    }

    /// From now on, forwards every request (the default).
    pub fn forward(&self) {
        self.recording.mode.store(FORWARD, Ordering::SeqCst);
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

const FORWARD: u8 = 0;
const RECORD: u8 = 1;
const REPLAY: u8 = 2;

/// The emulator's answers kept by [`FaultProxy::record`], by request.
#[derive(Default)]
struct Recording {
    mode: std::sync::atomic::AtomicU8,
    answers: Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

/// What makes two requests the same call: the service, region and
/// operation, the request line and the body. Not the signature, dates or
/// the SDK's invocation ids, which differ on every call.
fn replay_key(request: &[u8]) -> String {
    let call = describe_call(request);
    let text = String::from_utf8_lossy(request);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let line = head.lines().next().unwrap_or_default();
    format!(
        "{} {} {}\n{line}\n{body}",
        call.service, call.region, call.operation
    )
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    counts: &Counts,
    faults: &Mutex<(Faults, u64)>,
    recording: &Recording,
) -> std::io::Result<()> {
    let request = {
        let mut reader = BufReader::new(&mut client);
        match read_request(&mut reader).await? {
            Some(r) => r,
            None => return Ok(()),
        }
    };
    counts.requests.fetch_add(1, Ordering::SeqCst);
    let mut call = describe_call(&request);
    let (refused, silent) = {
        let guard = faults.lock().unwrap();
        let matches = |endpoints: &[Refused]| endpoints.iter().any(|r| r.matches(&call));
        (matches(&guard.0.refuse), matches(&guard.0.silent))
    };
    call.refused = refused || silent;
    counts.calls.lock().unwrap().push(call);
    if refused || silent {
        // The endpoint is down: nothing reaches AWS and nothing answers.
        counts.refused.fetch_add(1, Ordering::SeqCst);
        if silent {
            // Until the client closes the connection (or sends more).
            let _ = client.read(&mut [0u8; 1]).await;
        }
        drop(client);
        return Ok(());
    }
    let (latency, roll, kind, reject, answer, fail, lose, hold) = {
        let mut guard = faults.lock().unwrap();
        let (f, state) = &mut *guard;
        let roll = next(state);
        let kind = next(state);
        let contains = |needle: &str| {
            request
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        };
        let reject = f
            .reject_ec2_action
            .as_deref()
            .is_some_and(|action| contains(&format!("Action={action}&")));
        let answer = f
            .answer
            .as_ref()
            .filter(|(needle, _)| contains(needle))
            .map(|(_, body)| body.clone());
        let fail = f
            .fail
            .as_ref()
            .filter(|(needle, _, _)| contains(needle))
            .map(|(_, status, body)| (*status, body.clone()));
        let lose = create_call(&request)
            .filter(|_| next(state) < f.lose_create_responses)
            .or_else(|| {
                mutating_call(&request).filter(|_| next(state) < f.lose_mutating_responses)
            });
        let hold = f
            .hold
            .as_ref()
            .filter(|(needle, _)| contains(needle))
            .map(|(_, d)| *d);
        (
            f.latency,
            roll < f.rate,
            kind,
            reject,
            answer,
            fail,
            lose,
            hold,
        )
    };
    if let Some((status, body)) = fail {
        let content_type = if body.starts_with('{') {
            "application/x-amz-json-1.1"
        } else {
            "text/xml"
        };
        let response = format!(
            "HTTP/1.1 {status} Injected\r\ncontent-type: {content_type}\r\nx-amzn-requestid: injected\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        client.write_all(response.as_bytes()).await?;
        return client.shutdown().await;
    }
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
    if let Some(hold) = hold {
        counts.held.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(hold).await;
    }
    let mode = recording.mode.load(Ordering::SeqCst);
    let key = (mode != FORWARD).then(|| replay_key(&request));
    if mode == REPLAY {
        let kept = key
            .as_ref()
            .and_then(|k| recording.answers.lock().unwrap().get(k).cloned());
        if let Some(response) = kept {
            client.write_all(&response).await?;
            counts.answered.fetch_add(1, Ordering::SeqCst);
            return client.shutdown().await;
        }
    }
    counts.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&request).await?;
    // The emulator closes each connection after its response.
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;
    if let (RECORD, Some(key)) = (mode, key) {
        recording
            .answers
            .lock()
            .unwrap()
            .insert(key, response.clone());
    }
    if hold.is_some() {
        counts.released.fetch_add(1, Ordering::SeqCst);
    }
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

/// The service, region and operation of a request (`refused` false):
/// service and region from its SigV4 credential scope (the
/// `Authorization` header, or `X-Amz-Credential` of a presigned URL), the
/// operation from `X-Amz-Target` (JSON protocols: what follows its last
/// `.`), else a query protocol's `Action=` (body or URL), else
/// `METHOD /path` (REST protocols, query string left out).
pub fn describe_call(request: &[u8]) -> Call {
    let text = String::from_utf8_lossy(request);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let credential = header("authorization")
        .and_then(|a| {
            a.split("Credential=")
                .nth(1)
                .map(|c| c.split([',', ' ']).next().unwrap_or_default().to_owned())
        })
        .or_else(|| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-Credential="))
                .map(|c| c.replace("%2F", "/").replace("%2f", "/"))
        })
        .unwrap_or_default();
    // AKID/DATE/REGION/SERVICE/aws4_request
    let scope: Vec<&str> = credential.split('/').collect();
    let (region, service) = match scope.as_slice() {
        [_, _, region, service, ..] => ((*region).to_owned(), (*service).to_owned()),
        _ => (String::new(), String::new()),
    };
    let action = |params: &str| {
        params.split('&').find_map(|p| {
            p.strip_prefix("Action=").map(|a| {
                a.chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
            })
        })
    };
    let operation = header("x-amz-target")
        .map(|t| t.rsplit('.').next().unwrap_or_default().to_owned())
        .or_else(|| action(body.trim()))
        .or_else(|| action(query))
        .filter(|op| !op.is_empty())
        .unwrap_or_else(|| format!("{method} {path}"));
    Call {
        service,
        region,
        operation,
        refused: false,
    }
}

/// The operation a request is, if it changes something: any call but a
/// read (an operation named Describe, Get, List, ... or a REST GET or
/// HEAD).
pub fn mutating_call(request: &[u8]) -> Option<String> {
    const READS: [&str; 8] = [
        "Describe", "Get", "List", "Lookup", "Search", "Scan", "Query", "BatchGet",
    ];
    let call = describe_call(request);
    let op = call.operation;
    let read = match op.split_once(' ') {
        // A REST call: `METHOD /path`.
        Some((method, _)) => matches!(method, "GET" | "HEAD"),
        None => READS.iter().any(|r| op.starts_with(r)),
    };
    (!read && !op.is_empty()).then(|| format!("{}:{op}", call.service))
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
            // EventBridge's create (an upsert by name).
            "PutRule",
            // ECS's create of a task definition revision.
            "RegisterTaskDefinition",
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
        ("PUT", ["backup-vaults", _]) => "backup:CreateBackupVault",
        ("PUT", ["backup", "plans"]) => "backup:CreateBackupPlan",
        ("PUT", ["backup", "plans", _, "selections"]) => "backup:CreateBackupSelection",
        // Path-style S3: PUT /bucket with no subresource query.
        ("PUT", [bucket]) if !bucket.is_empty() && !line.contains('?') => "s3:CreateBucket",
        _ => return None,
    };
    Some(op.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-2/monitoring/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    fn request(head: &[&str], body: &str) -> Vec<u8> {
        format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
    }

    #[test]
    fn reads_are_not_mutating_calls_and_everything_else_is() {
        let query = |action: &str| {
            request(
                &["POST / HTTP/1.1", &format!("Authorization: {AUTH}")],
                &format!("Action={action}&Version=2010-08-01"),
            )
        };
        assert_eq!(mutating_call(&query("DescribeAlarms")), None);
        assert_eq!(mutating_call(&query("ListMetrics")), None);
        assert_eq!(
            mutating_call(&query("DeleteAlarms")).as_deref(),
            Some("monitoring:DeleteAlarms")
        );
        assert_eq!(
            mutating_call(&query("PutMetricAlarm")).as_deref(),
            Some("monitoring:PutMetricAlarm")
        );
        let rest = |line: &str| request(&[line, &format!("Authorization: {AUTH}")], "");
        assert_eq!(
            mutating_call(&rest("GET /2013-04-01/hostedzone/Z1/rrset HTTP/1.1")),
            None
        );
        assert_eq!(
            mutating_call(&rest("POST /2013-04-01/hostedzone/Z1/rrset HTTP/1.1")).as_deref(),
            Some("monitoring:POST /2013-04-01/hostedzone/Z1/rrset")
        );
        assert_eq!(
            mutating_call(&rest("DELETE /restapis/abc HTTP/1.1")).as_deref(),
            Some("monitoring:DELETE /restapis/abc")
        );
    }

    #[test]
    fn a_query_call_is_named_by_its_action_and_credential_scope() {
        let r = request(
            &[
                "POST / HTTP/1.1",
                "host: localhost",
                &format!("Authorization: {AUTH}"),
            ],
            "Action=PutMetricData&Version=2010-08-01&Namespace=DrctlTest",
        );
        assert_eq!(
            describe_call(&r),
            Call {
                service: "monitoring".into(),
                region: "us-east-2".into(),
                operation: "PutMetricData".into(),
                refused: false
            }
        );
        // The action in the URL (a GET of a query protocol).
        let r = request(
            &[
                "GET /?Action=DescribeVpcs&Version=2016-11-15 HTTP/1.1",
                "authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x",
            ],
            "",
        );
        let call = describe_call(&r);
        assert_eq!(
            (
                call.service.as_str(),
                call.region.as_str(),
                call.operation.as_str()
            ),
            ("ec2", "us-east-1", "DescribeVpcs")
        );
    }

    #[test]
    fn json_calls_by_target_rest_calls_by_method_and_path() {
        let r = request(
            &[
                "POST / HTTP/1.1",
                "X-Amz-Target: DynamoDB_20120810.DescribeTable",
                "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
            ],
            "{\"TableName\":\"t\"}",
        );
        assert_eq!(describe_call(&r).operation, "DescribeTable");
        let r = request(
            &[
                "POST /2013-04-01/healthcheck/abc?x=1 HTTP/1.1",
                "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=x",
            ],
            "<UpdateHealthCheckRequest/>",
        );
        let call = describe_call(&r);
        assert_eq!(call.operation, "POST /2013-04-01/healthcheck/abc");
        assert_eq!(
            (call.service.as_str(), call.region.as_str()),
            ("route53", "us-east-1")
        );
        // A presigned URL carries its scope in the query; no signature at all
        // leaves service and region empty.
        let r = request(
            &[
                "GET /bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-2%2Fs3%2Faws4_request&X-Amz-Signature=x HTTP/1.1",
            ],
            "",
        );
        let call = describe_call(&r);
        assert_eq!(
            (call.service.as_str(), call.region.as_str()),
            ("s3", "us-east-2")
        );
        assert_eq!(call.operation, "GET /bucket/key");
        let call = describe_call(&request(&["GET /health HTTP/1.1"], ""));
        assert_eq!((call.service.as_str(), call.region.as_str()), ("", ""));
    }

    #[test]
    fn refusals_match_by_region_service_or_both_and_render_one_line_each() {
        let call = |region: &str, service: &str| Call {
            service: service.into(),
            region: region.into(),
            operation: "Op".into(),
            refused: false,
        };
        let east1 = Refused::region("us-east-1");
        assert!(east1.matches(&call("us-east-1", "ec2")));
        assert!(east1.matches(&call("us-east-1", "route53")));
        assert!(!east1.matches(&call("us-east-2", "monitoring")));
        let r53 = Refused::service("route53");
        assert!(r53.matches(&call("us-east-1", "route53")));
        assert!(!r53.matches(&call("us-east-1", "ec2")));
        let both = Refused {
            region: Some("us-east-2".into()),
            service: Some("rds".into()),
        };
        assert!(both.matches(&call("us-east-2", "rds")));
        assert!(!both.matches(&call("us-east-1", "rds")));
        assert!(!both.matches(&call("us-east-2", "ec2")));
        let mut refused = call("us-east-1", "route53");
        refused.refused = true;
        let text = render_calls(&[call("us-east-2", "monitoring"), refused]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("us-east-2")
                && lines[0].contains("monitoring")
                && lines[0].ends_with("Op"),
            "{text}"
        );
        assert!(
            lines[1].contains("route53") && lines[1].ends_with("REFUSED"),
            "{text}"
        );
    }

    /// Against a listener standing for the emulator: a refused request
    /// never reaches it and its client gets no answer; the call log has
    /// both calls.
    #[tokio::test]
    async fn a_refused_request_is_dropped_unforwarded_and_logged() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = upstream.local_addr().unwrap();
        let reached = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&reached);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = upstream.accept().await {
                r.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(&mut s);
                let _ = read_request(&mut reader).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        let proxy = FaultProxy::start(
            &format!("http://{address}"),
            Faults {
                refuse: vec![Refused::region("us-east-1")],
                ..Faults::none()
            },
        )
        .await;
        let send = |region: &str| {
            let endpoint = proxy.endpoint.trim_start_matches("http://").to_owned();
            let body = "Action=DescribeVpcs&Version=2016-11-15";
            let text = format!(
                "POST / HTTP/1.1\r\nhost: x\r\nauthorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/{region}/ec2/aws4_request, SignedHeaders=host, Signature=x\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            async move {
                let mut s = TcpStream::connect(endpoint).await.unwrap();
                s.write_all(text.as_bytes()).await.unwrap();
                let mut answer = Vec::new();
                let _ = s.read_to_end(&mut answer).await;
                answer
            }
        };
        assert!(
            send("us-east-1").await.is_empty(),
            "no answer from a down endpoint"
        );
        assert!(send("us-east-2").await.starts_with(b"HTTP/1.1 200"));
        assert_eq!(
            reached.load(Ordering::SeqCst),
            1,
            "only the second was forwarded"
        );
        assert_eq!(proxy.counts.refused.load(Ordering::SeqCst), 1);
        let calls = proxy.counts.calls.lock().unwrap().clone();
        assert_eq!(
            calls
                .iter()
                .map(|c| (c.region.as_str(), c.operation.as_str(), c.refused))
                .collect::<Vec<_>>(),
            [
                ("us-east-1", "DescribeVpcs", true),
                ("us-east-2", "DescribeVpcs", false)
            ]
        );
        println!("{}", proxy.counts.call_log());
    }
}
