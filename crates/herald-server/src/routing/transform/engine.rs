//! The JavaScript workers: threads of their own (never the async runtime's), each with one
//! QuickJS runtime and its compiled scripts kept as contexts, one per distinct code, so a
//! delivery only calls `handler` (no engine start, no compile). Each script has a context of
//! its own: one endpoint's code cannot see or patch another's globals or prototypes.
//!
//! Limits per run: CPU time (the interrupt handler reads the thread's CPU clock) and memory
//! (the runtime's limit is set to what it holds plus the allowance before each run). A
//! context that keeps memory after a run is dropped, so scripts cannot grow without bound by
//! keeping state in globals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rquickjs::context::intrinsic;
use rquickjs::{CatchResultExt, CaughtError, Context, Function, Object, Runtime, Value};
use tokio::sync::oneshot;

use super::{CPU_LIMIT, MEMORY_LIMIT};

/// What a script may use: the language, JSON, dates, regular expressions, Map and Set; no
/// modules, timers, promises' job queue or I/O (QuickJS has none without its libc helpers).
type Intrinsics = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
);

/// Memory a worker's kept contexts may hold before the least recently used are dropped.
const KEPT_BYTES: usize = 48 << 20;
/// Growth a run may leave behind before its context is dropped (and built again next time).
const KEPT_GROWTH: usize = 1 << 20;
/// A script whose thread loses the CPU to others still stops after this much wall time.
const WALL_LIMIT: Duration = Duration::from_secs(2);

/// What the handler returned, read out of the engine.
#[derive(Debug)]
pub struct RawOut {
    pub cancel: bool,
    pub method: Option<String>,
    pub url: Option<String>,
    /// `JSON.stringify(webhook.headers)`, when it is an object.
    pub headers: Option<String>,
    /// `JSON.stringify(webhook.payload)`; `None` for `undefined`.
    pub payload: Option<String>,
}

pub enum Task {
    /// Compile `code` and check that it defines `handler`.
    Check {
        code: Arc<str>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Call `handler` with `input` (the webhook object as JSON).
    Run {
        code: Arc<str>,
        input: String,
        reply: oneshot::Sender<Result<RawOut, String>>,
    },
}

/// The shared queue the workers take tasks from: any idle worker takes the next task, so a
/// slow script holds one worker and the others keep going.
pub struct Workers {
    queue: Mutex<mpsc::Sender<Task>>,
}

impl Workers {
    pub fn start(threads: usize) -> Workers {
        let (tx, rx) = mpsc::channel::<Task>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("herald-js-{i}"))
                .spawn(move || worker(rx))
                .expect("a JavaScript worker thread starts");
        }
        Workers {
            queue: Mutex::new(tx),
        }
    }

    pub fn submit(&self, task: Task) {
        let _ = self.queue.lock().expect("js queue").send(task);
    }
}

fn worker(rx: Arc<Mutex<mpsc::Receiver<Task>>>) {
    let mut engine = match Engine::new() {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "the JavaScript engine did not start");
            return;
        }
    };
    loop {
        let task = match rx.lock().expect("js queue").recv() {
            Ok(t) => t,
            Err(_) => return,
        };
        match task {
            Task::Check { code, reply } => {
                let _ = reply.send(engine.check(&code));
            }
            Task::Run { code, input, reply } => {
                let _ = reply.send(engine.run(&code, &input));
            }
        }
    }
}

struct Kept {
    code: Arc<str>,
    ctx: Context,
    used: u64,
}

struct Engine {
    rt: Runtime,
    /// CPU-clock deadline of the current run, in ns (`i64::MAX` between runs).
    deadline: Arc<AtomicI64>,
    wall_deadline: Arc<Mutex<Instant>>,
    kept: HashMap<u64, Kept>,
    clock: u64,
}

/// This thread's CPU time in ns.
fn thread_cpu_ns() -> i64 {
    cpu_time::ThreadTime::try_now().map_or(0, |t| t.as_duration().as_nanos() as i64)
}

fn hash(code: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    code.hash(&mut h);
    h.finish()
}

impl Engine {
    fn new() -> rquickjs::Result<Engine> {
        let rt = Runtime::new()?;
        rt.set_max_stack_size(512 * 1024);
        let deadline = Arc::new(AtomicI64::new(i64::MAX));
        let wall_deadline = Arc::new(Mutex::new(Instant::now() + Duration::from_secs(3600)));
        let (d, w) = (deadline.clone(), wall_deadline.clone());
        rt.set_interrupt_handler(Some(Box::new(move || {
            thread_cpu_ns() > d.load(Ordering::Relaxed)
                || Instant::now() > *w.lock().expect("wall deadline")
        })));
        Ok(Engine {
            rt,
            deadline,
            wall_deadline,
            kept: HashMap::new(),
            clock: 0,
        })
    }

    /// Sets the limits for one run; the returned guard lifts them.
    fn limits(&self) -> impl Drop + '_ {
        struct Lift<'a>(&'a Engine);
        impl Drop for Lift<'_> {
            fn drop(&mut self) {
                self.0.deadline.store(i64::MAX, Ordering::Relaxed);
                self.0.rt.set_memory_limit(0);
            }
        }
        let cpu = thread_cpu_ns() + CPU_LIMIT.as_nanos() as i64;
        self.deadline.store(cpu, Ordering::Relaxed);
        *self.wall_deadline.lock().expect("wall deadline") = Instant::now() + WALL_LIMIT;
        let used = self.rt.memory_usage().malloc_size.max(0) as usize;
        self.rt.set_memory_limit(used + MEMORY_LIMIT);
        Lift(self)
    }

    fn memory(&self) -> usize {
        self.rt.memory_usage().malloc_size.max(0) as usize
    }

    /// A fresh context with `code` evaluated in it and `handler` checked.
    fn compile(&self, code: &str) -> Result<Context, String> {
        let ctx = Context::custom::<Intrinsics>(&self.rt).map_err(|e| e.to_string())?;
        let _limits = self.limits();
        ctx.with(|c| {
            c.eval::<(), _>(code)
                .catch(&c)
                .map_err(|e| describe(e, "the code"))?;
            let handler: Value = c.globals().get("handler").map_err(|e| e.to_string())?;
            if !handler.is_function() {
                return Err("the code defines no function handler(webhook)".to_string());
            }
            Ok(())
        })?;
        Ok(ctx)
    }

    fn check(&mut self, code: &str) -> Result<(), String> {
        let ctx = self.compile(code)?;
        drop(ctx);
        self.rt.run_gc();
        Ok(())
    }

    fn context(&mut self, code: &Arc<str>) -> Result<(u64, Context), String> {
        let key = hash(code);
        self.clock += 1;
        if let Some(k) = self.kept.get_mut(&key) {
            if *k.code == **code {
                k.used = self.clock;
                return Ok((key, k.ctx.clone()));
            }
        }
        let ctx = self.compile(code)?;
        self.make_room();
        self.kept.insert(
            key,
            Kept {
                code: code.clone(),
                ctx: ctx.clone(),
                used: self.clock,
            },
        );
        Ok((key, ctx))
    }

    /// Drops the least recently used contexts while the runtime holds too much.
    fn make_room(&mut self) {
        while self.memory() > KEPT_BYTES && !self.kept.is_empty() {
            let oldest = self
                .kept
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(key, _)| *key);
            if let Some(key) = oldest {
                self.kept.remove(&key);
            }
            self.rt.run_gc();
        }
    }

    fn run(&mut self, code: &Arc<str>, input: &str) -> Result<RawOut, String> {
        let (key, ctx) = self.context(code)?;
        let before = self.memory();
        let out = {
            let _limits = self.limits();
            ctx.with(|c| call(&c, input))
        };
        drop(ctx);
        if self.memory() > before + KEPT_GROWTH {
            self.rt.run_gc();
            if self.memory() > before + KEPT_GROWTH {
                // The script keeps what it allocated (in globals): start it afresh next time.
                self.kept.remove(&key);
                self.rt.run_gc();
            }
        }
        out
    }
}

fn call<'js>(c: &rquickjs::Ctx<'js>, input: &str) -> Result<RawOut, String> {
    let handler: Function = c
        .globals()
        .get("handler")
        .map_err(|_| "handler is no longer a function".to_string())?;
    let webhook = c.json_parse(input).map_err(|e| e.to_string())?;
    let returned: Value = handler
        .call((webhook,))
        .catch(c)
        .map_err(|e| describe(e, "handler"))?;
    let Some(obj) = returned.as_object() else {
        return Err(format!(
            "handler returned {}, not the webhook object",
            returned.type_name()
        ));
    };
    let text = |v: Value<'js>| v.as_string().and_then(|s| s.to_string().ok());
    let get = |name: &str| -> Result<Value<'js>, String> {
        obj.get::<_, Value>(name)
            .catch(c)
            .map_err(|e| describe(e, "reading the result"))
    };
    let cancel = get("cancel")?.as_bool().unwrap_or(false);
    let stringify = |v: Value<'js>| -> Result<Option<String>, String> {
        match c.json_stringify(v).catch(c) {
            Ok(Some(s)) => s.to_string().map(Some).map_err(|e| e.to_string()),
            Ok(None) => Ok(None),
            Err(e) => Err(describe(e, "serialising the result")),
        }
    };
    let headers = get("headers")?;
    let headers = match headers.as_object() {
        Some(_) => stringify(headers)?,
        None if headers.is_undefined() || headers.is_null() => None,
        None => return Err("webhook.headers must be an object".into()),
    };
    Ok(RawOut {
        cancel,
        method: text(get("method")?),
        url: text(get("url")?),
        headers,
        payload: stringify(get("payload")?)?,
    })
}

/// A message for what a script threw, or why it stopped.
fn describe(e: CaughtError<'_>, what: &str) -> String {
    match e {
        CaughtError::Exception(ex) => {
            let message = ex.message().unwrap_or_default();
            if message == "interrupted" {
                return format!("{what} ran past its {} ms CPU limit", CPU_LIMIT.as_millis());
            }
            let name: Option<String> = Object::get(&ex, "name").ok();
            let at = ex
                .stack()
                .and_then(|s| position(&s))
                .map(|p| format!(" at {p}"))
                .unwrap_or_default();
            format!("{}: {message}{at}", name.unwrap_or_else(|| "Error".into()))
        }
        CaughtError::Value(v) => {
            if v.is_null() || v.is_undefined() {
                // QuickJS throws no object when the allocation of one fails.
                format!(
                    "{what} ran out of memory (limit {} MiB) or threw {}",
                    MEMORY_LIMIT >> 20,
                    v.type_name()
                )
            } else {
                let shown = v
                    .ctx()
                    .json_stringify(v.clone())
                    .ok()
                    .flatten()
                    .and_then(|s| s.to_string().ok())
                    .unwrap_or_else(|| v.type_name().to_string());
                format!("{what} threw {shown}")
            }
        }
        CaughtError::Error(rquickjs::Error::Allocation) => format!(
            "{what} ran out of memory (limit {} MiB)",
            MEMORY_LIMIT >> 20
        ),
        CaughtError::Error(e) => e.to_string(),
    }
}

/// `line N, column M` from the first frame of a stack that names the script.
fn position(stack: &str) -> Option<String> {
    let frame = stack.lines().next()?;
    let inner = frame.trim().rsplit_once('(').map_or(frame, |(_, r)| r);
    let inner = inner.trim_end_matches(')');
    let mut parts = inner.rsplitn(3, ':');
    let col: u32 = parts.next()?.trim().parse().ok()?;
    let line: u32 = parts.next()?.trim().parse().ok()?;
    Some(format!("line {line}, column {col}"))
}
