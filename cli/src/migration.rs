//! `gicx migrate`, `gicx matrix`, `gicx audit`: argument parsing and printing only;
//! everything else is gicx-core's `migrate` and `audit` modules.

use std::io::Write;

use clap::Args;
use gicx_core::audit::{self, AuditOptions, AuditReport, Matrix};
use gicx_core::guest::GuestProfile;
use gicx_core::host::Host;
use gicx_core::migrate::{self, GuestSpec, Migration, MigrationSpec, Verdict};
use gicx_core::scenario;
use gicx_core::vgic::RestorePolicy;
use gicx_core::vmm::{self, ItsSupport, Recipe};

use crate::{fail, read_limited, write_json};

fn parse_host(s: &str) -> Result<Host, String> {
    Host::parse_compact(s).map_err(|e| e.to_string())
}
fn parse_vmm(s: &str) -> Result<&'static Recipe, String> {
    vmm::recipe(s).map_err(|e| e.to_string())
}
fn parse_guest(s: &str) -> Result<GuestProfile, String> {
    s.parse()
}
fn parse_policy(s: &str) -> Result<RestorePolicy, String> {
    s.parse()
}

/// Output format.
#[derive(Args, Clone, Copy, Debug)]
pub struct Format {
    /// Machine-readable output.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Markdown (tables) output.
    #[arg(long)]
    markdown: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Source host, e.g. v4.1@6.17 (with --scenario, defaults to the scenario's host).
    #[arg(long, value_parser = parse_host)]
    from: Option<Host>,
    /// Destination host, e.g. v4.0@6.17.
    #[arg(long, value_parser = parse_host)]
    to: Host,
    /// firecracker, cloud-hypervisor, qemu, qemu-2025, crosvm or kernel-doc.
    #[arg(long, value_parser = parse_vmm)]
    vmm: &'static Recipe,
    /// What the guest did before the migration: linux (default), legacy or idle.
    #[arg(long, value_parser = parse_guest, conflicts_with = "scenario")]
    guest: Option<GuestProfile>,
    /// Run this scenario's steps on the source instead of a guest profile.
    #[arg(long)]
    scenario: Option<String>,
    /// Restore policy on the destination: kernel, accept-any or relaxed-2020.
    #[arg(long, value_parser = parse_policy, default_value = "kernel")]
    policy: RestorePolicy,
    /// vCPUs of the VM (guest profiles).
    #[arg(long, default_value_t = 2)]
    vcpus: u32,
    /// Give the VM an in-kernel ITS (implied for cloud-hypervisor).
    #[arg(long)]
    its: bool,
    /// Create the source VM with GICD_TYPER2 = 0 written before init (6.17+).
    #[arg(long)]
    clear_nassgicap: bool,
    #[command(flatten)]
    format: Format,
}

#[derive(Args, Debug)]
pub struct MatrixArgs {
    #[arg(long, value_parser = parse_vmm)]
    vmm: &'static Recipe,
    #[arg(long, value_parser = parse_guest, default_value = "linux")]
    guest: GuestProfile,
    /// Hosts, one compact host per line ('#' comments) or a JSON array; default: the audit's hosts (gicx_core::audit::audit_hosts).
    #[arg(long)]
    hosts: Option<String>,
    #[arg(long, value_parser = parse_policy, default_value = "kernel")]
    policy: RestorePolicy,
    #[arg(long, default_value_t = 2)]
    vcpus: u32,
    /// Give the VM an in-kernel ITS (implied for cloud-hypervisor).
    #[arg(long)]
    its: bool,
    #[command(flatten)]
    format: Format,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Policies to compare (default: all three).
    #[arg(long = "policy", value_parser = parse_policy, num_args = 1..)]
    policies: Vec<RestorePolicy>,
    /// Counterexamples shown per policy and verdict.
    #[arg(long, default_value_t = 2)]
    examples: usize,
    /// Dispatch every access of sweeping VMMs (crosvm) instead of counting words without a KVM region.
    #[arg(long)]
    full_replay: bool,
    /// Worker threads (default: available cores, at most 4).
    #[arg(long)]
    threads: Option<usize>,
    /// Audit only these hosts (one compact host per line, or a JSON array); default: every era and behaviour point, GICv5 hosts included.
    #[arg(long)]
    hosts: Option<String>,
    #[command(flatten)]
    format: Format,
}

fn its_for(recipe: &Recipe, its: bool) -> bool {
    its || recipe.its == ItsSupport::Always
}

fn vm_line(m: &Migration) -> String {
    format!(
        "{} vCPUs, {} IRQs, {}",
        m.config.vcpus,
        m.config.nr_irqs,
        if m.config.its { "ITS" } else { "no ITS" }
    )
}

pub fn cmd_migrate(out: &mut impl Write, a: MigrateArgs) -> u8 {
    let (guest, from) = match (&a.scenario, a.guest) {
        (Some(file), _) => {
            let text = match read_limited(file) {
                Ok(t) => t,
                Err(e) => return fail(format!("--scenario {file}: {e}")),
            };
            let mut sc = match scenario::parse(&text) {
                Ok(sc) => sc,
                Err(e) => return fail(format!("--scenario {file}: {e}")),
            };
            let from = a.from.unwrap_or(sc.host);
            if sc.vm.nr_irqs != a.vmm.nr_irqs {
                eprintln!(
                    "gicx: note: {} creates its vGIC with NR_IRQS {}: the scenario's vm.nr_irqs {} is replaced",
                    a.vmm.id, a.vmm.nr_irqs, sc.vm.nr_irqs
                );
                sc.vm.nr_irqs = a.vmm.nr_irqs;
            }
            sc.vm.its = its_for(a.vmm, sc.vm.its || a.its);
            (GuestSpec::Scenario(Box::new(sc)), from)
        }
        (None, g) => match a.from {
            Some(f) => (GuestSpec::Profile(g.unwrap_or(GuestProfile::Linux)), f),
            None => {
                return fail("--from HOST is required (unless --scenario gives the source host)")
            }
        },
    };
    let spec = MigrationSpec {
        from,
        to: a.to,
        vmm: a.vmm,
        guest,
        policy: a.policy,
        vcpus: a.vcpus,
        its: its_for(a.vmm, a.its),
        clear_nassgicap: a.clear_nassgicap,
        recipe_changes: Vec::new(),
    };
    let m = match migrate::migrate(&spec) {
        Ok(m) => m,
        Err(e) => return fail(format!("--vmm {}: {e}", a.vmm.id)),
    };
    if a.format.json {
        write_json(out, &m);
        return 0;
    }
    let md = a.format.markdown;
    if md {
        let _ = writeln!(out, "## {} migration: {} → {}\n", m.vmm, m.from, m.to);
        let _ = writeln!(
            out,
            "- guest: {}\n- policy: {}\n- VM: {}\n- **verdict: {}** ({}, {})",
            m.guest,
            m.policy.as_str(),
            vm_line(&m),
            m.verdict,
            if m.accepted { "accepted" } else { "refused" },
            if m.safe { "safe" } else { "unsafe" }
        );
    } else {
        let _ = writeln!(
            out,
            "{}: {} (rules of {}) -> {} (rules of {}); guest {}; policy {}; {}",
            m.vmm,
            m.from,
            m.from_era,
            m.to,
            m.to_era,
            m.guest,
            m.policy.as_str(),
            vm_line(&m)
        );
        let _ = writeln!(
            out,
            "verdict: {} ({}, {})",
            m.verdict,
            if m.accepted { "accepted" } else { "refused" },
            if m.safe { "safe" } else { "unsafe" }
        );
    }
    let reasons = m.reasons();
    if !reasons.is_empty() {
        let _ = writeln!(out, "{}", if md { "\n### Reasons\n" } else { "reasons:" });
        for r in &reasons {
            let _ = writeln!(out, "{} {r}", if md { "-" } else { "  -" });
        }
    }
    if let Some(s) = &m.suggestion {
        let _ = writeln!(out, "{}suggestion: {s}", if md { "\n" } else { "" });
    }
    // Every other fix the model verified (replayed with it, the migration is compatible).
    for f in m.fixes.iter().skip(1) {
        let _ = writeln!(out, "{}also fixed by: {f}", if md { "\n" } else { "  " });
    }
    let _ = writeln!(
        out,
        "{}",
        if md {
            "\n### Restore log\n\n| step | access | rules |\n|---|---|---|".to_string()
        } else {
            format!(
                "restore log ({} entries; runs of identical accesses folded):",
                m.restore_log.len()
            )
        }
    );
    for e in &m.restore_log {
        let line = e.summary();
        if md {
            let _ = writeln!(out, "| {} | `{}` | {} |", e.index, line, e.rules.join(", "));
        } else {
            let _ = writeln!(
                out,
                "  [{:>5}] {:<72} {}",
                e.index,
                line,
                e.rules.join(", ")
            );
            for n in &e.notes {
                let _ = writeln!(out, "          note: {n}");
            }
        }
    }
    if !m.safety_log.is_empty() {
        let _ = writeln!(
            out,
            "{}safety replay (skipping refused writes): {} entries, the reasons above come from it (--json shows it)",
            if md { "\n" } else { "" },
            m.safety_log.len()
        );
    }
    let _ = writeln!(
        out,
        "{}",
        if md {
            "\n### Not replayed\n"
        } else {
            "not replayed:"
        }
    );
    for s in &m.skipped {
        let _ = writeln!(out, "{} {s}", if md { "-" } else { "  -" });
    }
    0
}

fn load_hosts(file: &str) -> Result<Vec<Host>, String> {
    let text = read_limited(file)?;
    let t = text.trim_start();
    if t.starts_with('[') {
        let v: Vec<serde_json::Value> = serde_json::from_str(t).map_err(|e| e.to_string())?;
        return v
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                let r = match &x {
                    serde_json::Value::String(s) => {
                        Host::parse_compact(s).map_err(|e| e.to_string())
                    }
                    o => serde_json::from_value::<Host>(o.clone()).map_err(|e| e.to_string()),
                };
                r.map_err(|e| format!("[{i}]: {e}"))
            })
            .collect();
    }
    let mut hosts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        hosts.push(Host::parse_compact(l).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    if hosts.is_empty() {
        return Err("no hosts".into());
    }
    Ok(hosts)
}

/// Short verdict codes for tables.
fn code(v: Verdict) -> &'static str {
    match v {
        Verdict::Compatible => "ok",
        Verdict::Rejected => "REJ",
        Verdict::NeedlesslyRejected => "need",
        Verdict::SilentlyBroken => "BRK",
    }
}

const LEGEND: &str = "ok = compatible, REJ = rejected (refused, unsafe), need = needlessly rejected (refused, safe), BRK = silently broken (accepted, unsafe)";

pub fn cmd_matrix(out: &mut impl Write, a: MatrixArgs) -> u8 {
    let hosts = match &a.hosts {
        Some(f) => match load_hosts(f) {
            Ok(h) => h,
            Err(e) => return fail(format!("--hosts {f}: {e}")),
        },
        None => audit::audit_hosts(),
    };
    let m = match audit::matrix(
        &hosts,
        a.vmm,
        a.guest,
        a.policy,
        its_for(a.vmm, a.its),
        a.vcpus,
    ) {
        Ok(m) => m,
        Err(e) => return fail(format!("--vmm {}: {e}", a.vmm.id)),
    };
    if a.format.json {
        write_json(out, &m);
        return 0;
    }
    print_matrix(out, &m, a.format.markdown);
    0
}

fn print_matrix(out: &mut impl Write, m: &Matrix, md: bool) {
    let title = format!(
        "{} / guest {} / policy {} / {} vCPUs, {} IRQs, {}: rows = source, columns = destination",
        m.vmm,
        m.guest,
        m.policy.as_str(),
        m.config.vcpus,
        m.config.nr_irqs,
        if m.config.its { "ITS" } else { "no ITS" }
    );
    let n = m.hosts.len();
    if md {
        let _ = writeln!(out, "### {title}\n");
        let _ = write!(out, "| source \\ destination |");
        for i in 0..n {
            let _ = write!(out, " {} |", i + 1);
        }
        let _ = write!(out, "\n|---|");
        for _ in 0..n {
            let _ = write!(out, "---|");
        }
        let _ = writeln!(out);
        for (i, row) in m.cells.iter().enumerate() {
            let _ = write!(out, "| {} `{}` |", i + 1, m.hosts[i]);
            for c in row {
                let _ = write!(out, " {} |", code(c.verdict));
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\n{LEGEND}. Columns:");
        for (i, h) in m.hosts.iter().enumerate() {
            let _ = writeln!(out, "{}. `{h}`", i + 1);
        }
    } else {
        let _ = writeln!(out, "{title}");
        let w = m.hosts.iter().map(|h| h.len()).max().unwrap_or(8) + 4;
        let _ = write!(out, "{:w$}", "");
        for i in 0..n {
            let _ = write!(out, "{:>5}", i + 1);
        }
        let _ = writeln!(out);
        for (i, row) in m.cells.iter().enumerate() {
            let _ = write!(out, "{:>3} {:<width$}", i + 1, m.hosts[i], width = w - 4);
            for c in row {
                let _ = write!(out, "{:>5}", code(c.verdict));
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "{LEGEND}");
    }
    let c = m.counts;
    let _ = writeln!(
        out,
        "{}counts: {} compatible, {} rejected, {} needlessly rejected, {} silently broken",
        if md { "\n" } else { "" },
        c.compatible,
        c.rejected,
        c.needlessly_rejected,
        c.silently_broken
    );
}

pub fn cmd_audit(out: &mut impl Write, a: AuditArgs) -> u8 {
    let mut opts = AuditOptions {
        fast: !a.full_replay,
        examples: a.examples,
        ..AuditOptions::default()
    };
    if !a.policies.is_empty() {
        opts.policies = a.policies.clone();
    }
    if let Some(f) = &a.hosts {
        match load_hosts(f) {
            Ok(h) => opts.hosts = h,
            Err(e) => return fail(format!("--hosts {f}: {e}")),
        }
    }
    if let Some(t) = a.threads {
        if t == 0 {
            return fail("--threads: must be at least 1");
        }
        opts.threads = t;
    }
    let rep = match audit::audit(&opts) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if a.format.json {
        write_json(out, &rep);
        return 0;
    }
    print_audit(out, &rep, a.format.markdown);
    eprintln!(
        "gicx audit: {:.3} s, {} threads, {} replay; {} sources, {} distinct saves, {} restores, {} accesses ({} counted as no-region words)",
        rep.stats.seconds,
        rep.stats.threads,
        if rep.stats.fast { "fast" } else { "full" },
        rep.stats.sources,
        rep.stats.distinct_saves,
        rep.stats.restores,
        rep.stats.accesses,
        rep.stats.elided
    );
    0
}

fn print_audit(out: &mut impl Write, r: &AuditReport, md: bool) {
    let na = r.per_policy.first().map_or(0, |p| p.not_applicable);
    let head = format!(
        "{} hosts (v3, v4.0, v4.1, v4.1+novsgi, v4.1+nov4 at each era's first kernel; v4.1 and v3 at each further behaviour point of gicx kernels, stable versions on both sides of a backport; GICv5 hosts from 6.17) x {} VMMs x {} guest profiles x ITS on/off, {} vCPUs: {} migrations per policy ({} combinations a VMM does not make are left out)",
        r.hosts.len(),
        r.vmms.len(),
        r.guests.len(),
        r.vcpus,
        r.migrations_per_policy,
        na
    );
    let pols: Vec<&str> = r.per_policy.iter().map(|p| p.policy.as_str()).collect();
    if md {
        let _ = writeln!(out, "## gicx audit\n\n{head}\n");
        let _ = writeln!(out, "| verdict | {} |", pols.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(pols.len()));
    } else {
        let _ = writeln!(out, "gicx audit: {head}\n");
        let _ = write!(out, "{:<22}", "verdict");
        for p in &pols {
            let _ = write!(out, "{p:>14}");
        }
        let _ = writeln!(out);
    }
    for v in Verdict::ALL {
        if md {
            let cells: Vec<String> = r
                .per_policy
                .iter()
                .map(|p| p.counts.get(v).to_string())
                .collect();
            let _ = writeln!(out, "| {v} | {} |", cells.join(" | "));
        } else {
            let _ = write!(out, "{:<22}", v.as_str());
            for p in &r.per_policy {
                let _ = write!(out, "{:>14}", p.counts.get(v));
            }
            let _ = writeln!(out);
        }
    }
    // Per VMM.
    if md {
        let _ = writeln!(out, "\n### Per VMM ({})\n", pols.join(" / "));
        let _ = writeln!(out, "| VMM | compatible | rejected | needlessly rejected | silently broken |\n|---|---|---|---|---|");
    } else {
        let _ = writeln!(out, "\nper VMM ({}):", pols.join(" / "));
        let _ = writeln!(
            out,
            "  {:<18}{:>22}{:>22}{:>22}{:>22}",
            "VMM", "compatible", "rejected", "needlessly-rejected", "silently-broken"
        );
    }
    for id in &r.vmms {
        let rows: Vec<_> = r.per_vmm.iter().filter(|x| x.vmm == *id).collect();
        let cell = |v: Verdict| {
            rows.iter()
                .map(|x| x.counts.get(v).to_string())
                .collect::<Vec<_>>()
                .join(" / ")
        };
        if md {
            let _ = writeln!(
                out,
                "| {id} | {} | {} | {} | {} |",
                cell(Verdict::Compatible),
                cell(Verdict::Rejected),
                cell(Verdict::NeedlesslyRejected),
                cell(Verdict::SilentlyBroken)
            );
        } else {
            let _ = writeln!(
                out,
                "  {id:<18}{:>22}{:>22}{:>22}{:>22}",
                cell(Verdict::Compatible),
                cell(Verdict::Rejected),
                cell(Verdict::NeedlesslyRejected),
                cell(Verdict::SilentlyBroken)
            );
        }
    }
    // What makes each VMM's migrations unsafe, under the first policy.
    if let Some(p0) = r.per_policy.first().map(|p| p.policy) {
        let title = if md {
            format!(
                "\n### Causes of unsafe verdicts ({}), migrations per cause\n",
                p0.as_str()
            )
        } else {
            format!(
                "\ncauses of unsafe verdicts under {} (migrations per cause):",
                p0.as_str()
            )
        };
        let _ = writeln!(out, "{title}");
        for id in &r.vmms {
            let list: Vec<String> = r
                .causes
                .iter()
                .filter(|c| c.vmm == *id && c.policy == p0)
                .map(|c| {
                    let v = if c.verdict == Verdict::Rejected {
                        "refused"
                    } else {
                        "accepted"
                    };
                    format!("{} {} ({v})", c.cause, c.count)
                })
                .collect();
            if !list.is_empty() {
                let _ = writeln!(
                    out,
                    "{}{id}: {}",
                    if md { "- " } else { "  " },
                    list.join(", ")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{}",
        if md {
            "\n### First counterexamples\n"
        } else {
            "\nfirst counterexamples:"
        }
    );
    for e in &r.examples {
        let _ = writeln!(
            out,
            "{}[{}] {}: {}, guest {}, {}, {} -> {}",
            if md { "- " } else { "  " },
            e.policy.as_str(),
            e.verdict,
            e.vmm,
            e.guest,
            if e.its { "ITS" } else { "no ITS" },
            e.from,
            e.to
        );
        for x in &e.reasons {
            let _ = writeln!(out, "{}{x}", if md { "  - " } else { "      - " });
        }
        if let Some(s) = &e.suggestion {
            let _ = writeln!(out, "{}suggestion: {s}", if md { "  - " } else { "      " });
        }
    }
}
