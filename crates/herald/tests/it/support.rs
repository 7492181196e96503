//! Test support: a real `herald serve` process on an ephemeral port, and a real recording
//! webhook receiver on 127.0.0.1.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;

pub const ADMIN_KEY: &str = "hrd_testAdminKey0123456789abcdefghijklmnopqrstu";

/// The store a test runs against. [`on_backends!`] declares a test once and instantiates it
/// per backend; the instance runs inside [`Backend::run`], so every server it starts uses
/// that backend. Tests outside the macro (sync tests, the CLI's) run on SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// Each server gets a fresh database on `HERALD_TEST_PG_URL` (default: the local server),
    /// dropped afterwards.
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

impl Backend {
    /// Runs one test body with this backend in force.
    pub async fn run(self, body: impl std::future::Future<Output = ()>) {
        BACKEND.scope(self, body).await
    }
}

/// The backend of the running test (see [`Backend`]).
pub fn postgres() -> bool {
    BACKEND
        .try_with(|b| *b == Backend::Postgres)
        .unwrap_or(false)
}

/// Declares that the `async fn` below it is a test, run on the backends named:
/// - `both`: `<name>::sqlite`, and `<name>::postgres` (ignored unless `--ignored` is given:
///   `.ci/run` gives it; elsewhere it is reported as ignored, never as passed);
/// - `sqlite`: a SQLite file matter, `<name>::sqlite` only;
/// - `postgres`: several nodes on one database, `<name>::postgres` only (ignored by default).
///
/// The tokio test attribute (its flavor) may be given before the name.
macro_rules! on_backends {
    (both: $(#[$attr:meta])? $name:ident) => {
        on_backends!(@mod $name [$(#[$attr])?] sqlite postgres);
    };
    (sqlite: $(#[$attr:meta])? $name:ident) => {
        on_backends!(@mod $name [$(#[$attr])?] sqlite);
    };
    (postgres: $(#[$attr:meta])? $name:ident) => {
        on_backends!(@mod $name [$(#[$attr])?] postgres);
    };
    (@mod $name:ident [] $($backend:ident)+) => {
        on_backends!(@mod $name [#[tokio::test]] $($backend)+);
    };
    (@mod $name:ident [#[$attr:meta]] $($backend:ident)+) => {
        mod $name {
            $(on_backends!(@fn $backend #[$attr] $name);)+
        }
    };
    (@fn sqlite #[$attr:meta] $name:ident) => {
        #[$attr]
        async fn sqlite() {
            crate::support::Backend::Sqlite.run(super::$name()).await
        }
    };
    (@fn postgres #[$attr:meta] $name:ident) => {
        #[$attr]
        #[ignore = "PostgreSQL: run with --ignored (HERALD_TEST_PG_URL, default 127.0.0.1:5432)"]
        async fn postgres() {
            crate::support::Backend::Postgres.run(super::$name()).await
        }
    };
}

fn pg_base() -> String {
    std::env::var("HERALD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh, empty PostgreSQL database, dropped when this value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let name = format!(
            "herald_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let base = pg_base();
        let status = Command::new("psql")
            .arg(format!("{base}/postgres"))
            .args(["-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("running psql");
        assert!(status.success(), "CREATE DATABASE {name} failed");
        TestDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// Runs one SQL statement; returns psql's unaligned output.
    pub fn sql(&self, statement: &str) -> String {
        let out = Command::new("psql")
            .arg(&self.url)
            .args(["-Atqc", statement])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(format!("{}/postgres", pg_base()))
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .status();
    }
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server under test: run in this test process (`herald_server::run` on a runtime and a
/// thread of its own; the default, for API and delivery tests) or as a `herald serve` child
/// process (for tests that need SIGKILL, SIGTERM, its stdout or stderr, or several nodes).
pub struct Herald {
    child: Option<Child>,
    in_process: Option<InProcess>,
    /// Run as a child process (`start_process`, `start_on`), not in this process.
    process: bool,
    pub url: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    pub http: reqwest::Client,
    pub stdout_path: PathBuf,
    pub db: Option<Arc<TestDatabase>>,
    /// stderr is a pipe whose reader is gone (as when the process reading it exited).
    stderr_gone: bool,
}

impl Herald {
    /// Starts a server in this process with the test defaults (fast retries, no jitter,
    /// private targets allowed) plus `env` overrides.
    pub async fn start(env: &[(&str, &str)]) -> Herald {
        Self::start_with(env, &["--allow-private-targets"]).await
    }

    /// Starts a server in this process; `args` may only be `--allow-private-targets`.
    pub async fn start_with(env: &[(&str, &str)], args: &[&str]) -> Herald {
        let db = postgres().then(|| Arc::new(TestDatabase::create()));
        let mut h = Self::unstarted(env, args, db);
        h.process = false;
        h.spawn().await;
        h
    }

    /// Starts a `herald serve` child process with the test defaults plus `env`.
    pub async fn start_process(env: &[(&str, &str)]) -> Herald {
        let db = postgres().then(|| Arc::new(TestDatabase::create()));
        Self::start_on(env, &["--allow-private-targets"], db).await
    }

    /// Starts a server on `db` (PostgreSQL) or, with `None`, on its own SQLite directory.
    pub async fn start_on(
        env: &[(&str, &str)],
        args: &[&str],
        db: Option<Arc<TestDatabase>>,
    ) -> Herald {
        let mut h = Self::unstarted(env, args, db);
        h.spawn().await;
        h
    }

    /// Starts a server whose stderr is a pipe nobody reads any more: every log line it
    /// writes after starting fails with EPIPE.
    pub async fn start_with_stderr_gone(env: &[(&str, &str)]) -> Herald {
        let db = postgres().then(|| Arc::new(TestDatabase::create()));
        let mut h = Self::unstarted(env, &["--allow-private-targets"], db);
        h.stderr_gone = true;
        h.spawn().await;
        h
    }

    fn unstarted(env: &[(&str, &str)], args: &[&str], db: Option<Arc<TestDatabase>>) -> Herald {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        Herald {
            child: None,
            in_process: None,
            process: true,
            url: String::new(),
            dir,
            _tmp: Some(tmp),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            stdout_path: PathBuf::new(),
            db,
            stderr_gone: false,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Sets (or, with `""`, unsets) an environment variable for the next `spawn`.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_string(), value.to_string()));
    }

    /// `--data-dir …` or `--database-url …`: this server's store, for commands that open it
    /// directly (`herald recovery-key`).
    pub fn store_args(&self) -> Vec<String> {
        match &self.db {
            Some(db) => vec!["--database-url".into(), db.url.clone()],
            None => vec!["--data-dir".into(), self.data_dir().display().to_string()],
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("herald.db")
    }

    /// (Re)starts the server on the same data directory, on a new port.
    pub async fn spawn(&mut self) {
        if !self.process {
            return self.run_in_process().await;
        }
        let port = free_port();
        self.url = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.args);
        if let Some(db) = &self.db {
            cmd.arg("--database-url").arg(&db.url);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("HERALD_") {
                cmd.env_remove(k);
            }
        }
        let has = |k: &str| self.env.iter().any(|(n, _)| n == k);
        if !has("HERALD_ADMIN_KEY") {
            cmd.env("HERALD_ADMIN_KEY", ADMIN_KEY);
        }
        if !has("HERALD_RETRY_SCHEDULE") {
            cmd.env("HERALD_RETRY_SCHEDULE", "1s,1s,1s");
        }
        cmd.env("HERALD_RETRY_JITTER", "0");
        for (k, v) in &self.env {
            if !v.is_empty() {
                cmd.env(k, v);
            }
        }
        let n = std::fs::read_dir(&self.dir).map(|d| d.count()).unwrap_or(0);
        self.stdout_path = self.dir.join(format!("stdout.{n}"));
        let out = std::fs::File::create(&self.stdout_path).unwrap();
        let err = std::fs::File::create(self.dir.join(format!("stderr.{n}"))).unwrap();
        cmd.stdout(out).stderr(err).stdin(Stdio::null());
        if self.stderr_gone {
            cmd.stderr(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawning herald");
        drop(child.stderr.take());
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Runs `herald_server::run` on a 127.0.0.1:0 listener, as `herald serve` would with
    /// the same settings.
    async fn run_in_process(&mut self) {
        use herald_server::config::{Config, Overrides};
        for arg in &self.args {
            assert_eq!(
                arg, "--allow-private-targets",
                "an in-process server takes no other flag: use Herald::start_process"
            );
        }
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        self.url = format!("http://{addr}");
        let mut env = vec![
            ("HERALD_ADMIN_KEY".to_string(), ADMIN_KEY.to_string()),
            ("HERALD_RETRY_SCHEDULE".to_string(), "1s,1s,1s".to_string()),
            ("HERALD_RETRY_JITTER".to_string(), "0".to_string()),
        ];
        for (k, v) in &self.env {
            env.retain(|(name, _)| name != k);
            if !v.is_empty() {
                env.push((k.clone(), v.clone()));
            }
        }
        let flags = Overrides {
            listen: Some(addr.to_string()),
            data_dir: Some(self.data_dir().display().to_string()),
            database_url: self.db.as_ref().map(|d| d.url.clone()),
            allow_private_targets: !self.args.is_empty(),
        };
        let config = Config::load(None, env, &flags).expect("test settings");
        self.in_process = Some(InProcess::start(config, listener));
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(server) = &self.in_process {
                if let Some(error) = server.ended() {
                    panic!("herald stopped early: {error}");
                }
            } else if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("herald exited early with {status}: {}", self.stderr());
            }
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "herald not ready: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stderr(&self) -> String {
        let mut out = String::new();
        if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                if e.file_name().to_string_lossy().starts_with("stderr") {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        assert!(
            self.process,
            "kill needs a process: start it with start_process"
        );
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; returns the exit status (panics after 15 s). Async so that receivers on
    /// the test's runtime keep answering meanwhile.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        assert!(
            self.process,
            "SIGTERM needs a process: start it with start_process"
        );
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "herald did not stop after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // ------------------------------------------------------------ HTTP helpers

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    pub async fn raw(
        &self,
        path: &str,
        body: &[u8],
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{}", self.url, path))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", content_type)
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(ADMIN_KEY), None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(ADMIN_KEY), Some(body))
            .await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(ADMIN_KEY), Some(body))
            .await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, Some(ADMIN_KEY), None).await
    }

    /// Creates an app; returns its id.
    pub async fn app(&self) -> String {
        let (s, a) = self
            .post("/v1/apps", serde_json::json!({"name": "test"}))
            .await;
        assert_eq!(s, 201, "{a}");
        a["id"].as_str().unwrap().to_string()
    }

    /// Creates an endpoint with extra fields; returns the endpoint object.
    pub async fn endpoint(&self, app: &str, url: &str, extra: Value) -> Value {
        let mut body = serde_json::json!({"url": url});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                body[k] = v;
            }
        }
        let (s, e) = self.post(&format!("/v1/apps/{app}/endpoints"), body).await;
        assert_eq!(s, 201, "{e}");
        e
    }

    pub async fn secret(&self, app: &str, ep: &str) -> String {
        let (s, v) = self
            .get(&format!("/v1/apps/{app}/endpoints/{ep}/secret"))
            .await;
        assert_eq!(s, 200, "{v}");
        v["secret"].as_str().unwrap().to_string()
    }

    /// Sends an event; asserts 202; returns the answer.
    pub async fn send(&self, app: &str, typ: &str, payload: Value) -> Value {
        let (s, v) = self
            .post(
                &format!("/v1/apps/{app}/events"),
                serde_json::json!({"type": typ, "payload": payload}),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        v
    }

    pub async fn delivery(&self, app: &str, del: &str) -> Value {
        let (s, v) = self.get(&format!("/v1/apps/{app}/deliveries/{del}")).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Polls until the delivery has `status`.
    pub async fn wait_status(&self, app: &str, del: &str, status: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let d = self.delivery(app, del).await;
            if d["status"] == status {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "delivery never reached {status}: {d}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls an endpoint until its status is `status`; returns it (panics after `within`).
    pub async fn wait_endpoint_status(
        &self,
        app: &str,
        ep: &str,
        status: &str,
        within: Duration,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let (_, e) = self.get(&format!("/v1/apps/{app}/endpoints/{ep}")).await;
            if e["status"] == status {
                return e;
            }
            assert!(Instant::now() < deadline, "endpoint never {status}: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn attempts(&self, app: &str, del: &str) -> Vec<Value> {
        let (s, v) = self
            .get(&format!("/v1/apps/{app}/deliveries/{del}/attempts"))
            .await;
        assert_eq!(s, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        if self.process {
            self.kill();
        }
    }
}

/// Asserts the contract's error body.
/// A server running inside the test process until dropped.
struct InProcess {
    shutdown: tokio_util::sync::CancellationToken,
    /// Why `run` returned, once it has.
    ended: Arc<Mutex<Option<String>>>,
}

impl InProcess {
    fn start(config: herald_server::config::Config, listener: StdListener) -> InProcess {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let ended = Arc::new(Mutex::new(None));
        let (token, slot) = (shutdown.clone(), ended.clone());
        // A runtime of its own: the server outlives no test, but must not share the test's
        // (often single-threaded) runtime, whose receivers it calls.
        // Not joined: see `Drop`.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let outcome = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                herald_server::run(config, listener, token).await
            });
            *slot.lock().unwrap() = Some(match outcome {
                Ok(()) => "stopped".to_string(),
                Err(e) => e.to_string(),
            });
        });
        InProcess { shutdown, ended }
    }

    fn ended(&self) -> Option<String> {
        self.ended.lock().unwrap().clone()
    }
}

impl Drop for InProcess {
    /// Stops the server without waiting: its graceful stop (up to 8 s for attempts in
    /// flight) goes on in its own thread while the next test runs.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn assert_error(status: u16, body: &Value, want_status: u16, want_type: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["type"], want_type, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

// ---------------------------------------------------------------- receiver

/// A request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The connection's far end: one per TCP connection Herald opened.
    pub peer: SocketAddr,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// The same moment on the wall clock (unix ms), to compare with Herald's timestamps.
    pub wall_ms: i64,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// How the receiver answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            delay: Duration::ZERO,
            headers: vec![],
            body: b"ok".to_vec(),
        }
    }
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn body(mut self, b: &[u8]) -> Self {
        self.body = b.to_vec();
        self
    }
}

/// Replies for one path: scripted ones in order, then the default.
type Script = (VecDeque<Reply>, Option<Reply>);

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    scripts: Mutex<HashMap<String, Script>>,
    in_flight: Mutex<HashMap<String, (usize, usize)>>, // path -> (now, max)
    notify: Notify,
}

/// A recording HTTP receiver on 127.0.0.1.
#[derive(Clone)]
pub struct Receiver {
    state: Arc<ReceiverState>,
    pub port: u16,
}

async fn receive(
    State(st): State<Arc<ReceiverState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    {
        let mut f = st.in_flight.lock().unwrap();
        let e = f.entry(path.clone()).or_default();
        e.0 += 1;
        e.1 = e.1.max(e.0);
    }
    st.got.lock().unwrap().push(Received {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        peer,
        headers,
        body,
        at: Instant::now(),
        wall_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    });
    st.notify.notify_waiters();
    let reply = {
        let mut s = st.scripts.lock().unwrap();
        match s.get_mut(&path) {
            Some((queue, default)) => queue.pop_front().or_else(|| default.clone()),
            None => None,
        }
    }
    .unwrap_or_else(|| Reply::status(200));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    st.in_flight.lock().unwrap().get_mut(&path).unwrap().0 -= 1;
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ReceiverState::default());
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        // Runs until the test's runtime ends.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { state, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Answers on `path`: `replies` in order, then `default`.
    pub fn script(&self, path: &str, replies: Vec<Reply>, default: Reply) {
        self.state
            .scripts
            .lock()
            .unwrap()
            .insert(path.to_string(), (replies.into(), Some(default)));
    }

    pub fn requests(&self, path: &str) -> Vec<Received> {
        self.state
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn max_in_flight(&self, path: &str) -> usize {
        self.state
            .in_flight
            .lock()
            .unwrap()
            .get(path)
            .map(|e| e.1)
            .unwrap_or(0)
    }

    /// Waits until `path` received at least `n` requests, or the time is up; returns what came.
    pub async fn try_wait(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.state.notify.notified();
            let got = self.requests(path);
            if got.len() >= n || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.requests(path);
            }
        }
    }

    /// Waits until `path` received at least `n` requests.
    pub async fn wait(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.state.notify.notified();
            let got = self.requests(path);
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let got = self.requests(path);
                assert!(
                    got.len() >= n,
                    "{path}: wanted {n} requests, got {}",
                    got.len()
                );
                return got;
            }
        }
    }
}
