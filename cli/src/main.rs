//! `gicx`: the command-line face of gicx-core, for scripts, CI and VMM developers.
//!
//! Exit codes: 0 every expectation holds; 1 an expectation failed; 2 invalid input.

use std::fs;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gicx_core::catalogue::{self, Frame, CATALOGUE};
use gicx_core::host::{Era, Host};
use gicx_core::rules;
use gicx_core::scenario::{self, ScenarioReport};
use gicx_core::vgic::{Vgic, VmConfig};
use serde_json::json;

mod bench;
mod conform;
mod migration;
mod real_migrations;

#[derive(Parser)]
#[command(
    name = "gicx",
    version,
    about = "The GIC explorer: KVM's GICv3/v4.1 vGIC, per kernel era"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenario files; exit 1 if an expectation fails, 2 on invalid input.
    Run {
        /// Scenario JSON files.
        #[arg(required = true)]
        files: Vec<String>,
        /// Machine-readable results.
        #[arg(long)]
        json: bool,
        /// Print only failures and the summary.
        #[arg(long, short)]
        quiet: bool,
        /// Print each step's hops (guest, KVM, ITS, redistributor, CPU interface).
        #[arg(long)]
        trace: bool,
    },
    /// List the register catalogue.
    Regs {
        /// Only this frame.
        #[arg(long, value_enum)]
        frame: Option<FrameArg>,
        /// Show KVM's table as of this kernel (e.g. 5.10): unemulated registers marked.
        #[arg(long)]
        kernel: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Decode a value of a register into its fields.
    Decode {
        /// Register name, e.g. GICD_CTLR, GICD_ISENABLER1, GICR_TYPER.
        reg: String,
        /// The value: hex (0x…), binary (0b…) or decimal.
        value: String,
        /// Also show what KVM reads on this host after reset, e.g. v4.1@6.17.
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List every behaviour rule with its source.
    Rules {
        #[arg(long)]
        json: bool,
    },
    /// The behaviour eras, then every behaviour change by commit (as `gicx kernels`).
    Eras,
    /// Behaviour changes by commit: mainline release, first stable versions, evidence;
    /// with --kernel, which of them one kernel carries and what GICv5 support it has.
    Kernels {
        /// A kernel version (6.12.118, 6.12.118+deb12, 7.0.9).
        #[arg(long)]
        kernel: Option<String>,
        /// Machine-readable.
        #[arg(long)]
        json: bool,
    },
    /// Migrate a VM between two hosts with a VMM's save/restore sequence; print the verdict, reasons and restore log.
    Migrate(migration::MigrateArgs),
    /// Every source x destination host for one VMM and guest profile, as a table.
    Matrix(migration::MatrixArgs),
    /// Audit every host pair, VMM, guest profile and ITS setting under each restore policy.
    Audit(migration::AuditArgs),
    /// Compare the model with recordings of real kernels (tests/kvm, scripts/kvm); exit 1 on any difference.
    Conform(conform::ConformArgs),
    /// Compare real migrations between real kernels (tests/kvm/migrations, scripts/kvm --migrations) with the model's verdicts; exit 1 on any disagreement.
    ConformMigrations(real_migrations::ConformMigrationsArgs),
    /// Time gicx-core's benchmark workloads (scripts/bench).
    #[command(hide = true)]
    Bench(bench::BenchArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum FrameArg {
    Dist,
    Redist,
    /// KVM's emulated ITS (`its_registers[]`) and the GICv4.1 registers of the
    /// host's vSGI path (GITS_SGIR, the redistributor's VLPI frame).
    Its,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = io::stdout();
    let mut out = out.lock();
    let code = match cli.cmd {
        Cmd::Run {
            files,
            json,
            quiet,
            trace,
        } => cmd_run(&mut out, &files, json, quiet, trace),
        Cmd::Regs {
            frame,
            kernel,
            json,
        } => cmd_regs(&mut out, frame, kernel.as_deref(), json),
        Cmd::Decode {
            reg,
            value,
            host,
            json,
        } => cmd_decode(&mut out, &reg, &value, host.as_deref(), json),
        Cmd::Rules { json } => cmd_rules(&mut out, json),
        Cmd::Migrate(a) => migration::cmd_migrate(&mut out, a),
        Cmd::Matrix(a) => migration::cmd_matrix(&mut out, a),
        Cmd::Audit(a) => migration::cmd_audit(&mut out, a),
        Cmd::Bench(a) => bench::cmd_bench(&mut out, a),
        Cmd::Conform(a) => conform::cmd_conform(&mut out, a),
        Cmd::ConformMigrations(a) => real_migrations::cmd_conform_migrations(&mut out, a),
        Cmd::Kernels { kernel, json } => cmd_kernels(&mut out, kernel.as_deref(), json),
        Cmd::Eras => {
            for e in Era::ALL {
                let _ = writeln!(out, "{:<5} {}", e.as_str(), e.summary());
            }
            let _ = writeln!(out, "\nbehaviour changes by commit (gicx kernels):\n");
            cmd_kernels(&mut out, None, false)
        }
    };
    let _ = out.flush();
    ExitCode::from(code)
}

/// `gicx kernels [--kernel V] [--json]`.
fn cmd_kernels(out: &mut impl Write, kernel: Option<&str>, json: bool) -> u8 {
    if let Some(k) = kernel {
        let k: gicx_core::host::KernelVersion = match k.parse() {
            Ok(k) => k,
            Err(e) => return fail(format!("--kernel: {e}")),
        };
        let era = match k.era() {
            Ok(e) => e,
            Err(e) => return fail(format!("--kernel: {e}")),
        };
        let st = k.change_statuses();
        if json {
            write_json(
                out,
                &json!({"kernel": k.to_string(), "era": era.as_str(), "changes": st, "gicv5": k.gicv5_support()}),
            );
        } else {
            let _ = writeln!(out, "{k}: rules of {era}");
            for c in &st {
                let _ = writeln!(out, "  {}", c.sentence(k));
            }
            let _ = writeln!(
                out,
                "  {}",
                k.gicv5_support().unwrap_or(
                    "no GICv5 hosts (KVM runs GICv3 guests on GICv5 hardware from 6.17)"
                )
            );
        }
        return 0;
    }
    if json {
        write_json(out, &gicx_core::kernels::every().collect::<Vec<_>>());
        return 0;
    }
    for c in gicx_core::kernels::every() {
        let stable: Vec<String> = c.stable.iter().map(|v| format!("{v}")).collect();
        let _ = writeln!(
            out,
            "{} {}: {}\n  mainline {}{}\n  {}\n  {}\n",
            if c.commit.is_empty() {
                c.patch
            } else {
                c.commit
            },
            c.title,
            c.effect,
            c.mainline,
            if stable.is_empty() {
                String::new()
            } else {
                format!("; stable {}", stable.join(", "))
            },
            c.id,
            c.evidence
        );
    }
    0
}

pub(crate) fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("gicx: {msg}");
    2
}

/// `--json` output: the value, pretty-printed, on its own line.
pub(crate) fn write_json(out: &mut impl Write, value: &(impl serde::Serialize + ?Sized)) {
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn cmd_run(out: &mut impl Write, files: &[String], json: bool, quiet: bool, trace: bool) -> u8 {
    let mut worst = 0u8;
    let mut json_results = Vec::new();
    let (mut n_pass, mut n_fail, mut n_err) = (0usize, 0usize, 0usize);
    for file in files {
        let text = match read_limited(file) {
            Ok(t) => t,
            Err(e) => {
                n_err += 1;
                worst = 2;
                eprintln!("gicx: {file}: {e}");
                json_results.push(json!({"file": file, "error": e}));
                continue;
            }
        };
        let sc = match scenario::parse(&text) {
            Ok(sc) => sc,
            Err(e) => {
                n_err += 1;
                worst = 2;
                eprintln!("gicx: {file}: {e}");
                json_results.push(json!({"file": file, "error": e.to_string(), "path": e.path, "line": e.line, "column": e.column}));
                continue;
            }
        };
        match scenario::run(&sc) {
            Err(e) => {
                n_err += 1;
                worst = 2;
                eprintln!("gicx: {file}: {e}");
                json_results.push(json!({"file": file, "error": e.to_string(), "path": format!("steps[{}]", e.index)}));
            }
            Ok((report, _vm)) => {
                let passed = report.passed();
                if passed {
                    n_pass += 1;
                } else {
                    n_fail += 1;
                    worst = worst.max(1);
                }
                if json {
                    json_results.push(json!({"file": file, "passed": passed, "report": report}));
                } else {
                    print_report(out, file, &report, quiet, trace);
                }
            }
        }
    }
    if json {
        write_json(out, &json_results);
    } else {
        let _ = writeln!(
            out,
            "{n_pass} passed, {n_fail} failed{}",
            if n_err > 0 {
                format!(", {n_err} invalid")
            } else {
                String::new()
            }
        );
    }
    worst
}

pub(crate) fn read_limited(file: &str) -> Result<String, String> {
    let meta = fs::metadata(file).map_err(|e| e.to_string())?;
    if meta.len() > scenario::MAX_SCENARIO_BYTES as u64 {
        return Err(format!(
            "{} bytes; scenario files are limited to {}",
            meta.len(),
            scenario::MAX_SCENARIO_BYTES
        ));
    }
    fs::read_to_string(file).map_err(|e| e.to_string())
}

fn print_report(out: &mut impl Write, file: &str, rep: &ScenarioReport, quiet: bool, trace: bool) {
    let status = if rep.passed() { "PASS" } else { "FAIL" };
    let _ = writeln!(
        out,
        "{status} {file}: {} on {}",
        rep.name.as_deref().unwrap_or("(unnamed)"),
        rep.host
    );
    for s in &rep.steps {
        if quiet && s.passed() {
            continue;
        }
        let rule = s
            .outcome
            .as_ref()
            .and_then(|o| o.rule())
            .map(|r| r.id)
            .unwrap_or("");
        let _ = writeln!(
            out,
            "  [{:>3}] {:<11} {:<70} {}",
            s.index, s.op, s.summary, rule
        );
        for f in &s.failures {
            let _ = writeln!(out, "        FAIL step {} ({}): {f}", s.index, s.op);
            if let Some(o) = &s.outcome {
                for r in &o.rules {
                    let _ = writeln!(
                        out,
                        "          rule {} [{}]: {} ({})",
                        r.id, r.eras, r.text, r.source
                    );
                }
                for n in &o.notes {
                    let _ = writeln!(out, "          note: {n}");
                }
            }
            if let Some(m) = &s.migration {
                for r in m.reasons() {
                    let _ = writeln!(out, "          reason: {r}");
                }
            }
        }
        if trace {
            print_trace(out, s.trace());
        }
    }
}

/// One line per hop: layer, vCPU/INTID, what happened, then where and why.
fn print_trace(out: &mut impl Write, hops: &[gicx_core::trace::Hop]) {
    for h in hops {
        let who = match (h.vcpu, h.intid) {
            (Some(v), Some(i)) => format!("vCPU {v} INTID {i}"),
            (Some(v), None) => format!("vCPU {v}"),
            (None, Some(i)) => format!("INTID {i}"),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "        -> {:<13} {:<16} {}",
            h.layer.as_str(),
            who,
            h.what
        );
        let mut at = h.at.clone();
        if !h.source.is_empty() {
            at.push_str(" | ");
            at.push_str(&h.source);
        }
        if let Some(r) = &h.rule {
            at.push_str(" | rule ");
            at.push_str(r);
        }
        let _ = writeln!(out, "           {:<30} {at}", "");
    }
}

fn cmd_regs(out: &mut impl Write, frame: Option<FrameArg>, kernel: Option<&str>, json: bool) -> u8 {
    let era = match kernel.map(|k| {
        k.parse::<gicx_core::host::KernelVersion>()
            .and_then(|v| v.era())
    }) {
        Some(Err(e)) => return fail(e),
        Some(Ok(e)) => e,
        None => Era::V7_1,
    };
    let want = match frame {
        None => None,
        Some(FrameArg::Dist) => Some(Frame::Dist),
        Some(FrameArg::Redist) => Some(Frame::Redist),
        Some(FrameArg::Its) => return cmd_regs_its(out, json),
    };
    let regs: Vec<_> = CATALOGUE
        .iter()
        .filter(|r| want.is_none_or(|f| r.frame == f))
        .collect();
    if json {
        write_json(out, &regs);
        return 0;
    }
    let _ = writeln!(
        out,
        "{:<6} {:<8} {:<24} {:<7} {:<4} {:<22} summary",
        "frame",
        "offset",
        "register",
        "widths",
        "arch",
        "KVM (rules of ".to_string() + era.as_str() + ")"
    );
    for r in regs {
        let kvm = if r.kvm_region_in(era) {
            r.handler.kvm_summary().to_string()
        } else if r.handler.is_emulated() {
            format!("not before {}: RAZ/WI", r.kvm_since)
        } else {
            r.handler.kvm_summary().to_string()
        };
        let offset = if r.len > r.reg_bytes as u32 {
            format!("{:#06x}+", r.offset)
        } else {
            format!("{:#06x}", r.offset)
        };
        let _ = writeln!(
            out,
            "{:<6} {:<8} {:<24} {:<7} {:<4} {:<22} {}",
            r.frame.as_str(),
            offset,
            r.pattern(),
            r.widths.to_string(),
            r.arch_access.as_str(),
            kvm,
            r.summary
        );
    }
    0
}

/// `gicx regs --frame its`: the catalogue's ITS part (catalogue::its).
fn cmd_regs_its(out: &mut impl Write, json: bool) -> u8 {
    use gicx_core::catalogue::its::{GICV4_1_REGISTERS, ITS_REGIONS};
    if json {
        write_json(
            out,
            &json!({"its": ITS_REGIONS, "gicv4_1": GICV4_1_REGISTERS}),
        );
        return 0;
    }
    let _ = writeln!(
        out,
        "{:<6} {:<8} {:<16} {:<7} fields",
        "frame", "offset", "register", "widths"
    );
    let fields = |f: &[catalogue::FieldDesc]| {
        f.iter()
            .map(|f| format!("{}{}", f.name, f.bits()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for r in ITS_REGIONS {
        let offset = if r.len > 8 {
            format!("{:#06x}+", r.offset)
        } else {
            format!("{:#06x}", r.offset)
        };
        let widths = match r.widths {
            catalogue::its::Widths::W32 => "32",
            catalogue::its::Widths::W32W64 => "32/64",
        };
        let _ = writeln!(
            out,
            "{:<6} {:<8} {:<16} {:<7} {}",
            "its",
            offset,
            r.name,
            widths,
            fields(r.fields)
        );
    }
    for r in GICV4_1_REGISTERS {
        let _ = writeln!(
            out,
            "{:<6} {:<8} {:<16} {:<7} {} (GICv4.1 host, not emulated for guests)",
            r.frame.to_lowercase(),
            format!("{:#06x}", r.offset),
            r.name,
            r.reg_bytes * 8,
            fields(r.fields)
        );
    }
    0
}

fn cmd_decode(out: &mut impl Write, reg: &str, value: &str, host: Option<&str>, json: bool) -> u8 {
    let r = match catalogue::lookup(reg) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let v = match gicx_core::number::parse(value) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if v >> (r.desc.reg_bytes as u32 * 8).min(63) > 0 && r.desc.reg_bytes < 8 {
        return fail(format!(
            "{v:#x} does not fit the {}-bit register {}",
            r.desc.reg_bytes as u32 * 8,
            r.name()
        ));
    }
    let fields = catalogue::decode(&r, v);
    let kvm = match host.map(Host::parse_compact) {
        Some(Err(e)) => return fail(e),
        Some(Ok(h)) => {
            let mut vm = Vgic::new(h, VmConfig::default());
            vm.init();
            vm.run();
            let guest = vm.peek_guest(
                r.desc.frame,
                0,
                r.offset(),
                if r.desc.reg_bytes == 8 { 64 } else { 32 },
            );
            Some((h, guest))
        }
        None => None,
    };
    if json {
        let k = kvm.map(
            |(h, g)| json!({"host": h.compact(), "era": h.era(), "guest_reads_after_reset": g}),
        );
        write_json(
            out,
            &json!({"register": r.name(), "offset": r.offset(), "frame": r.desc.frame, "value": v, "fields": fields, "kvm": k}),
        );
        return 0;
    }
    let _ = writeln!(
        out,
        "{} ({} {:#06x}) = {v:#x}",
        r.name(),
        r.desc.frame.as_str(),
        r.offset()
    );
    for f in &fields {
        let _ = writeln!(
            out,
            "  {:<18} {:<8} {:#x}  {}",
            f.name, f.bits, f.value, f.meaning
        );
    }
    if let Some((h, g)) = kvm {
        match g {
            Some(g) => {
                let _ = writeln!(out, "On {h}: the guest reads {g:#x} after reset.");
            }
            None => {
                let _ = writeln!(out, "On {h}: no guest read possible.");
            }
        }
    }
    0
}

fn cmd_rules(out: &mut impl Write, json: bool) -> u8 {
    if json {
        #[derive(serde::Serialize)]
        struct WithKernels<'a> {
            #[serde(flatten)]
            rule: &'a rules::Rule,
            /// Real kernels (and host kinds) on which a step applying the rule
            /// agreed with the model (tests/kvm/confirmed.json).
            confirmed_on: &'static [String],
        }
        let all: Vec<WithKernels> = rules::every()
            .map(|r| WithKernels {
                rule: r,
                confirmed_on: gicx_core::confirmed::kernels(r.id),
            })
            .collect();
        write_json(out, &all);
        return 0;
    }
    for r in rules::every() {
        let checked = gicx_core::confirmed::summary(r.id)
            .unwrap_or_else(|| "not yet checked on real KVM".into());
        let _ = writeln!(
            out,
            "{:<44} {:<10} {}\n{:<55} {}\n{:<55} {checked}",
            r.id, r.eras, r.text, "", r.source, ""
        );
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `gicx decode` reads its value with the shared parser (`gicx_core::number`):
    /// `_` separators and binary are read, a sign is refused (exit 2).
    #[test]
    fn decode_values_use_the_shared_number_parser() {
        let mut out = Vec::new();
        assert_eq!(cmd_decode(&mut out, "GICD_CTLR", "0b1_0010", None, true), 0);
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["value"], 0b1_0010);
        for bad in ["+1", "-1", "0x+1", "0xg"] {
            let mut out = Vec::new();
            assert_eq!(
                cmd_decode(&mut out, "GICD_CTLR", bad, None, false),
                2,
                "{bad}"
            );
            assert!(out.is_empty(), "{bad}: nothing printed");
        }
    }
}
