//! A KVM_RUN that does not come back is interrupted, not waited for.
//!
//! A step whose vCPU never exits (seen on 7.3.4 under QEMU: a CPU_SYSREGS
//! write of ICC_IGRPEN0_EL1 = 1 followed by a run) would otherwise hold the
//! boot until the harness's timeout and lose every result after it. One
//! watchdog thread per process watches the armed deadline; when it passes it
//! sends a real-time signal to the thread in KVM_RUN, whose handler does
//! nothing, so the ioctl returns -EINTR (api.rst: "KVM_RUN ... returns -EINTR
//! if a signal is pending") and the step is reported as hung. It keeps
//! sending until the run is disarmed, in case the first signal lands just
//! before the ioctl.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use vmm_sys_util::signal::{register_signal_handler, SIGRTMIN};

/// How long one KVM_RUN may take before it counts as hung. Every run of the
/// runner's guest program is a few instructions (0.01-0.1 s under emulation).
pub const LIMIT: Duration = Duration::from_secs(5);

/// The limit in force, in milliseconds: [`LIMIT`] unless [`set_limit`] changed it.
static LIMIT_MS: AtomicU64 = AtomicU64::new(5000);

/// Change the limit: the random sequences use 1 s, since on 6.19 and later
/// under QEMU about 6 % of them hang a vCPU (Group 0 enabled through
/// CPU_SYSREGS, then a run) and each would otherwise cost the full 5 s.
pub fn set_limit(limit: Duration) {
    LIMIT_MS.store(
        limit.as_millis().clamp(1, u64::MAX as u128) as u64,
        Ordering::Relaxed,
    );
}

/// The limit in force.
pub fn limit() -> Duration {
    Duration::from_millis(LIMIT_MS.load(Ordering::Relaxed))
}

struct Armed {
    /// The `pthread_t` of the thread in KVM_RUN, as an integer (musl's is a
    /// pointer, which is not `Send`; it is only passed back to pthread_kill).
    thread: usize,
    deadline: Instant,
}

struct Watch {
    armed: Mutex<Option<Armed>>,
    changed: Condvar,
}

fn signal() -> libc::c_int {
    SIGRTMIN() + 1
}

fn watch() -> &'static Watch {
    static WATCH: OnceLock<&'static Watch> = OnceLock::new();
    WATCH.get_or_init(|| {
        extern "C" fn nothing(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}
        // register_signal_handler installs it without SA_RESTART, so KVM_RUN is interrupted.
        if let Err(e) = register_signal_handler(signal(), nothing) {
            eprintln!("gicx-kvm: the KVM_RUN watchdog has no signal handler: {e}");
        }
        let w: &'static Watch = Box::leak(Box::new(Watch {
            armed: Mutex::new(None),
            changed: Condvar::new(),
        }));
        std::thread::spawn(move || {
            let mut armed = w.armed.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let wait = match armed.as_ref() {
                    None => Duration::from_secs(3600),
                    Some(a) => {
                        let now = Instant::now();
                        if now >= a.deadline {
                            // SAFETY: the thread is alive: it disarms before returning from its run.
                            unsafe { libc::pthread_kill(a.thread as libc::pthread_t, signal()) };
                            Duration::from_millis(100)
                        } else {
                            a.deadline - now
                        }
                    }
                };
                armed = w
                    .changed
                    .wait_timeout(armed, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        });
        w
    })
}

/// Run `f` (one KVM_RUN) under the watchdog; `true` if the watchdog fired.
pub fn guard<T>(f: impl FnOnce() -> T) -> (T, bool) {
    let w = watch();
    let start = Instant::now();
    {
        let mut armed = w.armed.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: pthread_self has no preconditions.
        let thread = unsafe { libc::pthread_self() } as usize;
        *armed = Some(Armed {
            thread,
            deadline: start + limit(),
        });
        w.changed.notify_all();
    }
    let out = f();
    let mut armed = w.armed.lock().unwrap_or_else(|e| e.into_inner());
    *armed = None;
    w.changed.notify_all();
    (out, start.elapsed() >= limit())
}
