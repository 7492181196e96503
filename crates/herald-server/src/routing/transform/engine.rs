//! The JavaScript workers: threads of their own (never the async runtime's), each with one
//! QuickJS runtime and its compiled scripts kept as contexts, one per distinct code, so a
//! delivery only calls `handler` (no engine start, no compile). Each script has a context of
//! its own: one endpoint's code cannot see or patch another's globals or prototypes. A
//! script belongs to one worker (see [`Workers`]), so it is kept once.
//!
//! Limits per run: CPU time (the interrupt handler reads the thread's CPU clock) and memory
//! (the runtime's limit is what it holds plus the allowance). QuickJS only tells what a
//! runtime holds by walking its whole heap (milliseconds with a thousand scripts kept), so
//! that is measured at most once a second and after an overrun, and estimated in between.
//! A script that overruns is dropped and starts afresh, so scripts cannot grow without
//! bound by keeping state in globals; past a budget the least recently used are dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

/// Memory the workers' kept contexts may hold together before the least recently used are
/// dropped (each worker keeps its share).
const KEPT_BYTES_ALL: usize = 96 << 20;
/// How often what the runtime holds is measured (a walk of its heap).
const MEASURE_EVERY: Duration = Duration::from_secs(1);
/// What a new context is counted as until the next measure (about 35 KB are seen).
const CONTEXT_ESTIMATE: usize = 64 << 10;
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

/// The workers and their queues. A script's tasks go to one worker (by the code's hash), so
/// a script is compiled and kept by one worker while that worker keeps up; a task queued
/// behind a busy worker (a slow script, or a burst of one script's deliveries) is taken by
/// an idle one, which then keeps a copy of that script too. No task waits while a worker is
/// idle, and a slow script holds up only the worker running it.
pub struct Workers {
    state: Mutex<Queues>,
    /// One per worker: a submit wakes only the worker the task is for.
    wake: Vec<Condvar>,
}

struct Queues {
    queues: Vec<VecDeque<Task>>,
    /// Waiting for a task (and not yet woken for one).
    idle: Vec<bool>,
}

impl Task {
    fn code(&self) -> &str {
        match self {
            Task::Check { code, .. } | Task::Run { code, .. } => code,
        }
    }
}

impl Workers {
    pub fn start(threads: usize) -> Arc<Workers> {
        let workers = Arc::new(Workers {
            state: Mutex::new(Queues {
                queues: (0..threads).map(|_| VecDeque::new()).collect(),
                idle: vec![false; threads],
            }),
            wake: (0..threads).map(|_| Condvar::new()).collect(),
        });
        for i in 0..threads {
            let w = workers.clone();
            std::thread::Builder::new()
                .name(format!("herald-js-{i}"))
                .spawn(move || worker(&w, i))
                .expect("a JavaScript worker thread starts");
        }
        workers
    }

    /// How many workers share the scripts (each keeps a share of the memory budget).
    pub fn count(&self) -> usize {
        self.wake.len()
    }

    pub fn submit(&self, task: Task) {
        let mut state = self.state.lock().expect("js queues");
        let owner = (hash(task.code()) % state.queues.len() as u64) as usize;
        state.queues[owner].push_back(task);
        // The owner if it is idle, else any idle worker (it takes the task over); a busy
        // owner takes it when done.
        let wake = if state.idle[owner] {
            Some(owner)
        } else {
            state.idle.iter().position(|idle| *idle)
        };
        if let Some(w) = wake {
            state.idle[w] = false; // one submit wakes one worker
        }
        drop(state);
        if let Some(w) = wake {
            self.wake[w].notify_one();
        }
    }

    /// Worker `me`'s next task: its own, else one queued behind a busy worker.
    fn next(&self, me: usize) -> Task {
        let mut state = self.state.lock().expect("js queues");
        loop {
            if let Some(task) = state.queues[me].pop_front() {
                state.idle[me] = false;
                return task;
            }
            let waiting =
                (0..state.queues.len()).find(|&w| !state.idle[w] && !state.queues[w].is_empty());
            if let Some(task) = waiting.and_then(|w| state.queues[w].pop_front()) {
                state.idle[me] = false;
                return task;
            }
            state.idle[me] = true;
            state = self.wake[me].wait(state).expect("js queues");
        }
    }
}

fn worker(workers: &Workers, me: usize) {
    let mut engine = match Engine::new(KEPT_BYTES_ALL / workers.count()) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "the JavaScript engine did not start");
            return;
        }
    };
    loop {
        match workers.next(me) {
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
    /// What the runtime holds: last measured, plus estimates for contexts built since.
    held: usize,
    measured_at: Instant,
    /// This worker's share of [`KEPT_BYTES_ALL`].
    kept_bytes: usize,
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
    fn new(kept_bytes: usize) -> rquickjs::Result<Engine> {
        let rt = Runtime::new()?;
        rt.set_max_stack_size(512 * 1024);
        let deadline = Arc::new(AtomicI64::new(i64::MAX));
        let wall_deadline = Arc::new(Mutex::new(Instant::now() + Duration::from_secs(3600)));
        let (d, w) = (deadline.clone(), wall_deadline.clone());
        rt.set_interrupt_handler(Some(Box::new(move || {
            thread_cpu_ns() > d.load(Ordering::Relaxed)
                || Instant::now() > *w.lock().expect("wall deadline")
        })));
        let mut engine = Engine {
            rt,
            deadline,
            wall_deadline,
            kept: HashMap::new(),
            clock: 0,
            held: 0,
            measured_at: Instant::now(),
            kept_bytes,
        };
        engine.measure();
        Ok(engine)
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
        self.rt.set_memory_limit(self.held + MEMORY_LIMIT);
        Lift(self)
    }

    fn measure(&mut self) {
        self.held = self.rt.memory_usage().malloc_size.max(0) as usize;
        self.measured_at = Instant::now();
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
        if self.measured_at.elapsed() >= MEASURE_EVERY {
            self.measure();
        }
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
        self.held += CONTEXT_ESTIMATE;
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

    /// Drops the least recently used contexts (an eighth at a time) while the runtime
    /// holds more than the budget.
    fn make_room(&mut self) {
        while self.held > self.kept_bytes && !self.kept.is_empty() {
            let mut by_use: Vec<(u64, u64)> = self.kept.iter().map(|(k, v)| (v.used, *k)).collect();
            by_use.sort_unstable();
            for (_, key) in by_use.iter().take((by_use.len() / 8).max(1)) {
                self.kept.remove(key);
            }
            self.rt.run_gc();
            self.measure();
        }
    }

    fn run(&mut self, code: &Arc<str>, input: &str) -> Result<RawOut, String> {
        if self.measured_at.elapsed() >= MEASURE_EVERY || self.held > self.kept_bytes {
            self.measure();
            self.make_room();
        }
        let (key, ctx) = self.context(code)?;
        let out = {
            let _limits = self.limits();
            ctx.with(|c| call(&c, input))
        };
        drop(ctx);
        if out.as_ref().is_err_and(|e| e.contains(OUT_OF_MEMORY)) {
            // What it allocated may still be held by its globals: start it afresh.
            self.kept.remove(&key);
            self.rt.run_gc();
            self.measure();
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

const OUT_OF_MEMORY: &str = "out of memory";

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
                    "{what} ran {OUT_OF_MEMORY} (limit {} MiB) or threw {}",
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
        CaughtError::Error(rquickjs::Error::Allocation) => {
            format!(
                "{what} ran {OUT_OF_MEMORY} (limit {} MiB)",
                MEMORY_LIMIT >> 20
            )
        }
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
