//! The program around the runner: as PID 1 of an initramfs (mount, run
//! `/gicx/scenarios/*`, print, power off) or as a command (`gicx-kvm FILE...`).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gicx_core::scenario;
use kvm_ioctls::Kvm;
use serde_json::json;

use crate::runner;

const SCENARIO_DIR: &str = "/gicx/scenarios";

pub fn main() -> ExitCode {
    let pid1 = std::process::id() == 1;
    if pid1 {
        mount("devtmpfs", "/dev", "devtmpfs");
        mount("proc", "/proc", "proc");
        mount("sysfs", "/sys", "sysfs");
    }
    let random;
    let files: Vec<PathBuf> = if pid1 {
        random = crate::random::from_file(crate::random::CONFIG_FILE);
        let mut v: Vec<PathBuf> = std::fs::read_dir(SCENARIO_DIR)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    } else {
        let mut args: Vec<String> = std::env::args().skip(1).collect();
        random = crate::random::take_args(&mut args);
        if (args.is_empty() && random.is_none()) || args.iter().any(|a| a == "-h" || a == "--help")
        {
            eprintln!(
                "usage: gicx-kvm SCENARIO.json...\n\
                 \x20      gicx-kvm --random N [--seed S] --kind v3|v4.0|v4.0+nov4|v4.1 [--kernel X.Y.Z] [SCENARIO.json...]\n\
                 Runs each scenario against this host's /dev/kvm and prints GICX-BEGIN, one\n\
                 GICX-RESULT line per scenario and GICX-END; `gicx conform --console FILE`\n\
                 compares the output with the model. --random also runs N random access\n\
                 sequences on the model (host KIND at the kernel, by default the running one)\n\
                 and on /dev/kvm, and prints GICX-RANDOM with each disagreement shrunk."
            );
            return ExitCode::from(2);
        }
        args.into_iter().map(PathBuf::from).collect()
    };
    let code = run_all(&files, random.as_ref());
    if pid1 {
        power_off();
    }
    code
}

fn run_all(
    files: &[PathBuf],
    random: Option<&Result<crate::random::RandomConfig, String>>,
) -> ExitCode {
    let out = std::io::stdout();
    let mut out = out.lock();
    let begin = json!({
        "release": read_trim("/proc/sys/kernel/osrelease"),
        "proc_version": read_trim("/proc/version"),
        "pid1": std::process::id() == 1,
        // Seconds since the kernel booted: how long the boot took before the runner started.
        "uptime": read_trim("/proc/uptime").split(' ').next().unwrap_or_default(),
    });
    let _ = writeln!(out, "GICX-BEGIN {begin}");
    let kvm = match Kvm::new() {
        Ok(k) => k,
        Err(e) => {
            let _ = writeln!(
                out,
                "GICX-END {}",
                json!({"count": 0, "error": format!("/dev/kvm: {}", crate::errno::name(e.errno()))})
            );
            return ExitCode::from(1);
        }
    };
    let mut count = 0;
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // How long the scenario took on this kernel (benchmarks read it; no test asserts it).
        let (ran, ms) = run_file(&kvm, f);
        let result = match ran {
            Ok(steps) => json!({"file": name, "steps": steps, "ms": ms}),
            Err(e) => json!({"file": name, "steps": [], "setup_error": e, "ms": ms}),
        };
        let _ = writeln!(out, "GICX-RESULT {result}");
        let _ = out.flush();
        count += 1;
    }
    if let Some(r) = random {
        let _ = writeln!(out, "GICX-RANDOM {}", crate::random::line(&kvm, r));
    }
    // Real migrations (migration.rs): the save and restore jobs packed in the initramfs.
    if std::process::id() == 1 {
        count += crate::migration::run(&kvm, &mut out);
    }
    runner::reap_all();
    let _ = writeln!(out, "GICX-END {}", json!({ "count": count }));
    let _ = out.flush();
    ExitCode::SUCCESS
}

type Steps = Result<Vec<gicx_core::oracle::Observed>, String>;

fn run_file(kvm: &Kvm, f: &Path) -> (Steps, runner::Timings) {
    let parsed = std::fs::read_to_string(f)
        .map_err(|e| format!("{}: {e}", f.display()))
        .and_then(|text| scenario::parse(&text).map_err(|e| format!("{}: {e}", f.display())));
    match parsed {
        Ok(sc) => {
            let (r, t) = runner::run_timed(kvm, &sc);
            (r.map_err(|e| e.0), t)
        }
        Err(e) => (Err(e), runner::Timings::default()),
    }
}

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn mount(src: &str, target: &str, fstype: &str) {
    let _ = std::fs::create_dir_all(target);
    let (Ok(s), Ok(t), Ok(f)) = (
        CString::new(src),
        CString::new(target),
        CString::new(fstype),
    ) else {
        return;
    };
    // SAFETY: valid NUL-terminated strings; no data argument.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        eprintln!(
            "gicx-kvm: mount {target}: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn power_off() -> ! {
    // SAFETY: flushing filesystems and powering off is what PID 1 does last.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // reboot(2) does not return for PID 1; if it did, PID 1 must not exit (panic).
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
