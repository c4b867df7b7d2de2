//! irqfd and `KVM_SET_GSI_ROUTING`: a VMM's eventfds raising the VM's SPIs
//! and MSIs, and the resample eventfd of a level-triggered one.
//!
//! Sources (read at torvalds/linux, the same logic in 5.10 … 7.3):
//! - `virt/kvm/kvm_main.c` `KVM_SET_GSI_ROUTING`: more than
//!   `KVM_MAX_IRQ_ROUTES` (4096) entries or non-zero flags: -EINVAL;
//! - `virt/kvm/irqchip.c` `kvm_set_irq_routing` / `setup_routing_entry`:
//!   a GSI at or beyond 4096, a GSI routed to the same irqchip twice or an
//!   MSI entry beside any other on its GSI: -EINVAL; the new table replaces
//!   the whole old one; `rt->chip[irqchip][pin]` maps a pin back to its GSI
//!   (the last entry naming it) for `kvm_notify_acked_irq`;
//! - `arch/arm64/kvm/vgic/vgic-irqfd.c` `kvm_set_routing_entry`: irqchip
//!   entries need `irqchip` < `KVM_NR_IRQCHIPS` (1) and `pin` <
//!   `KVM_IRQCHIP_NUM_PINS` (1020 - 32 = 988), else -EINVAL; pin *p* is SPI
//!   *p* + 32 and `vgic_irqfd_set_irq` drops an SPI beyond nr_irqs
//!   (`vgic_valid_spi`) silently; `kvm_vgic_setup_default_irq_routing`,
//!   called by `vgic_init` (vgic-init.c), installs GSI *i* -> pin *i* for
//!   every SPI, replacing whatever table userspace set before init;
//! - `virt/kvm/eventfd.c` `kvm_irqfd`/`kvm_irqfd_assign`: before the vGIC is
//!   initialised (`kvm_arch_intc_initialized` = `vgic_initialized`) -EAGAIN;
//!   an eventfd another irqfd already uses: -EBUSY; deassign removes the
//!   irqfds of that eventfd and GSI (none: still 0); an eventfd already
//!   signalled when it is assigned is injected by the `irqfd_inject` work
//!   (a level raised then lowered, or raised only for a resampler);
//! - `irqfd_wakeup` -> `kvm_arch_set_irq_inatomic` (vgic-irqfd.c, "KVM:
//!   arm64: Allow in-atomic injection of SPIs", M. Zyngier, 5.9): a signal
//!   on an irqchip route raises the SPI's level to 1 at once and nothing
//!   lowers it (a level-triggered SPI stays pending until something lowers
//!   its line); an MSI route is the translation `KVM_SIGNAL_MSI` makes
//!   (from the ITS's cache in atomic context, else from the `irqfd_inject`
//!   work);
//! - resampling (`KVM_IRQFD_FLAG_RESAMPLE`, `irqfd_resampler_ack`): when the
//!   guest deactivates a level-triggered SPI whose list register carried
//!   `ICH_LR_EOI` (every software level interrupt, vgic-v3.c
//!   `vgic_v3_populate_lr`), the fold (`vgic_v3_fold_lr_state`:
//!   `lr_signals_eoi_mi` -> `kvm_notify_acked_irq`) lowers the line of that
//!   pin's GSI and adds 1 to every resample eventfd of it.
//!
//! What a scenario can observe deterministically: the injection through the
//! `irqfd_inject` work is asynchronous (a workqueue), so `gicx-kvm` waits
//! after each `irqfd` and `irqfd_signal` step for the work to have run
//! (kvm/src/runner.rs); the model applies it within the step. The eventfd's
//! own counter, which newer kernels consume in `irqfd_wakeup`, is not
//! observable through a step: only resample eventfds are read.

use std::collections::BTreeMap;

use super::{Op, Outcome, Path, Vgic};
use crate::errno::Errno;
use crate::rules::{self as r, Rule};
use crate::trace::{Hop, Layer};
use crate::vgic::Lifecycle;

/// `KVM_MAX_IRQ_ROUTES` (include/linux/kvm_host.h): GSIs and entries.
pub const KVM_MAX_IRQ_ROUTES: u32 = 4096;
/// `KVM_IRQCHIP_NUM_PINS` (arch/arm64/include/asm/kvm_host.h): 1020 - 32.
pub const KVM_IRQCHIP_NUM_PINS: u32 = 1020 - 32;
/// `KVM_NR_IRQCHIPS` on arm64.
pub const KVM_NR_IRQCHIPS: u32 = 1;

/// Where a GSI goes (`struct kvm_irq_routing_entry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `KVM_IRQ_ROUTING_IRQCHIP`: pin *p* is SPI *p* + 32.
    Irqchip { irqchip: u32, pin: u32 },
    /// `KVM_IRQ_ROUTING_MSI` (`devid` sets `KVM_MSI_VALID_DEVID`).
    Msi {
        addr: u64,
        data: u32,
        devid: Option<u32>,
    },
}

/// One entry of `KVM_SET_GSI_ROUTING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub gsi: u32,
    pub route: Route,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Irqfd {
    fd: u32,
    gsi: u32,
    resample_fd: Option<u32>,
}

/// The VM's routing table, irqfds and the resample eventfds' counters (live
/// only, like the ITS: not in `VgicState`).
#[derive(Clone, Debug, Default)]
pub struct Irqfds {
    /// A table userspace set; `None`: the default one `vgic_init` installs
    /// (GSI *i* -> SPI *i* + 32), or none before init.
    table: Option<Vec<RouteEntry>>,
    irqfds: Vec<Irqfd>,
    /// Eventfd counters the model follows: resample eventfds, and signals
    /// on an eventfd no irqfd watched yet.
    counts: BTreeMap<u32, u64>,
    /// Level-triggered SPIs the guest deactivated from a list register since
    /// the last fold (`lr_signals_eoi_mi`).
    acked: Vec<u32>,
}

fn outcome(
    op: Op,
    register: &str,
    value: u64,
    errno: Option<Errno>,
    rules: Vec<&'static Rule>,
) -> Outcome {
    Outcome {
        path: Path::User,
        op,
        frame: None,
        vcpu: 0,
        offset: 0,
        width: 64,
        register: Some(register.to_string()),
        value,
        errno,
        rules,
        notes: Vec::new(),
        trace: Vec::new(),
    }
}

const SRC_ROUTING: &str = "virt/kvm/irqchip.c: kvm_set_irq_routing, setup_routing_entry; arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_set_routing_entry";
const SRC_IRQFD: &str = "virt/kvm/eventfd.c: kvm_irqfd, kvm_irqfd_assign, kvm_irqfd_deassign";
const SRC_WAKEUP: &str = "virt/kvm/eventfd.c: irqfd_wakeup -> arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_arch_set_irq_inatomic (5.9+)";

impl Vgic {
    /// The routes of `gsi` now (`kvm_irq_map_gsi`).
    fn routes_of(&self, gsi: u32) -> Vec<Route> {
        match &self.live.irqfd.table {
            Some(t) => t.iter().filter(|e| e.gsi == gsi).map(|e| e.route).collect(),
            None if self.state.lifecycle != Lifecycle::Created
                && gsi < self.state.config.nr_spis() =>
            {
                vec![Route::Irqchip {
                    irqchip: 0,
                    pin: gsi,
                }]
            }
            None => Vec::new(),
        }
    }

    /// `rt->chip[0][pin]`: the GSI the last irqchip entry for `pin` names.
    fn gsi_of_pin(&self, pin: u32) -> Option<u32> {
        match &self.live.irqfd.table {
            Some(t) => t
                .iter()
                .rev()
                .find(|e| matches!(e.route, Route::Irqchip { irqchip: 0, pin: p } if p == pin))
                .map(|e| e.gsi),
            None if self.state.lifecycle != Lifecycle::Created
                && pin < self.state.config.nr_spis() =>
            {
                Some(pin)
            }
            None => None,
        }
    }

    /// `vgic_init` -> `kvm_vgic_setup_default_irq_routing`: the default table
    /// replaces any table userspace set before init.
    pub(crate) fn irqfd_on_init(&mut self) {
        if self.live.irqfd.table.take().is_some() {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "kvm_vgic_setup_default_irq_routing",
                    "vgic_init replaces the GSI routing userspace set before init with the default one (GSI i -> SPI i + 32)",
                )
                .rule(&r::IRQFD_ROUTING_DEFAULT_AT_INIT),
            );
        }
    }

    /// `KVM_SET_GSI_ROUTING`.
    pub fn set_gsi_routing(&mut self, entries: &[RouteEntry]) -> Outcome {
        let fail = |vm: &mut Vgic, what: String, rule: &'static Rule| {
            vm.emit(
                Hop::new(
                    Layer::Kvm,
                    "KVM_SET_GSI_ROUTING",
                    format!("{what}: -EINVAL"),
                )
                .source(SRC_ROUTING)
                .rule(rule),
            );
            outcome(
                Op::Write,
                "KVM_SET_GSI_ROUTING",
                entries.len() as u64,
                Some(Errno::EINVAL),
                vec![rule],
            )
        };
        if entries.len() as u32 > KVM_MAX_IRQ_ROUTES {
            return fail(
                self,
                format!(
                    "{} entries, more than KVM_MAX_IRQ_ROUTES (4096)",
                    entries.len()
                ),
                &r::IRQFD_ROUTING_EINVAL,
            );
        }
        if let Some(e) = entries.iter().find(|e| e.gsi >= KVM_MAX_IRQ_ROUTES) {
            return fail(
                self,
                format!("GSI {} is at or beyond KVM_MAX_IRQ_ROUTES (4096)", e.gsi),
                &r::IRQFD_ROUTING_EINVAL,
            );
        }
        for (i, e) in entries.iter().enumerate() {
            if let Route::Irqchip { irqchip, pin } = e.route {
                if pin >= KVM_IRQCHIP_NUM_PINS || irqchip >= KVM_NR_IRQCHIPS {
                    return fail(
                        self,
                        format!("entry {i}: irqchip {irqchip} pin {pin}: kvm_set_routing_entry takes irqchip 0 and pins below KVM_IRQCHIP_NUM_PINS (988)"),
                        &r::IRQFD_ROUTING_EINVAL,
                    );
                }
            }
            // setup_routing_entry: one irqchip entry per irqchip and GSI, an MSI alone.
            let clash = entries[..i].iter().any(|p| {
                p.gsi == e.gsi
                    && match (p.route, e.route) {
                        (Route::Irqchip { irqchip: a, .. }, Route::Irqchip { irqchip: b, .. }) => {
                            a == b
                        }
                        _ => true,
                    }
            });
            if clash {
                return fail(
                    self,
                    format!("entry {i}: GSI {} is already routed to that irqchip, or beside an MSI (setup_routing_entry)", e.gsi),
                    &r::IRQFD_ROUTING_DUPLICATE,
                );
            }
        }
        self.live.irqfd.table = Some(entries.to_vec());
        let rule = if self.state.lifecycle == Lifecycle::Created {
            &r::IRQFD_ROUTING_DEFAULT_AT_INIT
        } else {
            &r::IRQFD_ROUTING_SET
        };
        self.emit(
            Hop::new(
                Layer::Kvm,
                "KVM_SET_GSI_ROUTING",
                format!(
                    "{} entries replace the routing table (kvm_irq_routing_update: every irqfd re-reads its GSI's route){}",
                    entries.len(),
                    if self.state.lifecycle == Lifecycle::Created { "; vgic_init will replace it with the default one" } else { "" }
                ),
            )
            .source(SRC_ROUTING)
            .rule(rule),
        );
        outcome(
            Op::Write,
            "KVM_SET_GSI_ROUTING",
            entries.len() as u64,
            None,
            vec![rule],
        )
    }

    /// `KVM_IRQFD`: assign `fd` to `gsi` (with a resample eventfd), or deassign it.
    pub fn irqfd(
        &mut self,
        fd: u32,
        gsi: u32,
        resample_fd: Option<u32>,
        deassign: bool,
    ) -> Outcome {
        if deassign {
            let before = self.live.irqfd.irqfds.len();
            self.live
                .irqfd
                .irqfds
                .retain(|i| !(i.fd == fd && i.gsi == gsi));
            let removed = before - self.live.irqfd.irqfds.len();
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "kvm_irqfd_deassign",
                    if removed > 0 {
                        format!("eventfd {fd} no longer raises GSI {gsi}")
                    } else {
                        format!("no irqfd of eventfd {fd} on GSI {gsi}: nothing to remove, still 0")
                    },
                )
                .source(SRC_IRQFD)
                .rule(&r::IRQFD_DEASSIGN),
            );
            return outcome(Op::Write, "KVM_IRQFD", 0, None, vec![&r::IRQFD_DEASSIGN]);
        }
        if self.state.lifecycle == Lifecycle::Created {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "kvm_irqfd_assign",
                    "kvm_arch_intc_initialized: the vGIC is not initialised: -EAGAIN",
                )
                .source(SRC_IRQFD)
                .rule(&r::IRQFD_BEFORE_INIT),
            );
            return outcome(
                Op::Write,
                "KVM_IRQFD",
                0,
                Some(Errno::EAGAIN),
                vec![&r::IRQFD_BEFORE_INIT],
            );
        }
        if self.live.irqfd.irqfds.iter().any(|i| i.fd == fd) {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "kvm_irqfd_assign",
                    format!("eventfd {fd} already raises another irqfd: -EBUSY"),
                )
                .source(SRC_IRQFD)
                .rule(&r::IRQFD_BUSY),
            );
            return outcome(
                Op::Write,
                "KVM_IRQFD",
                0,
                Some(Errno::EBUSY),
                vec![&r::IRQFD_BUSY],
            );
        }
        self.live.irqfd.irqfds.push(Irqfd {
            fd,
            gsi,
            resample_fd,
        });
        if let Some(rfd) = resample_fd {
            self.live.irqfd.counts.entry(rfd).or_insert(0);
        }
        self.emit(
            Hop::new(
                Layer::Kvm,
                "kvm_irqfd_assign",
                match resample_fd {
                    Some(rfd) => format!(
                        "eventfd {fd} raises GSI {gsi}; resample eventfd {rfd} hears its EOIs"
                    ),
                    None => format!("eventfd {fd} raises GSI {gsi}"),
                },
            )
            .source(SRC_IRQFD)
            .rule(&r::IRQFD_ASSIGN),
        );
        let mut rules = vec![&r::IRQFD_ASSIGN];
        // An eventfd signalled before: `events & EPOLLIN` -> schedule_work(inject).
        if self.live.irqfd.counts.remove(&fd).is_some_and(|n| n > 0) {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "irqfd_inject",
                    "the eventfd was already signalled: the irqfd_inject work injects it (kvm_set_irq level 1, then 0 unless resampling)",
                )
                .source("virt/kvm/eventfd.c: kvm_irqfd_assign (events & EPOLLIN), irqfd_inject")
                .rule(&r::IRQFD_PENDING_AT_ASSIGN),
            );
            self.irqfd_deliver(gsi, resample_fd.is_none());
            rules.push(&r::IRQFD_PENDING_AT_ASSIGN);
        }
        outcome(Op::Write, "KVM_IRQFD", 0, None, rules)
    }

    /// A VMM's `write(fd, 1)` on an eventfd.
    pub fn irqfd_signal(&mut self, fd: u32) -> Outcome {
        let Some(i) = self.live.irqfd.irqfds.iter().find(|i| i.fd == fd).copied() else {
            *self.live.irqfd.counts.entry(fd).or_insert(0) += 1;
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "eventfd_signal",
                    format!("no irqfd watches eventfd {fd}: its counter keeps the signal"),
                )
                .rule(&r::IRQFD_UNWATCHED),
            );
            return outcome(Op::Write, "eventfd", 1, None, vec![&r::IRQFD_UNWATCHED]);
        };
        let rule = self.irqfd_deliver(i.gsi, false);
        outcome(Op::Write, "eventfd", 1, None, vec![rule])
    }

    /// Inject GSI `gsi` through its route: `irqfd_wakeup`'s in-atomic path
    /// (level raised only), or the `irqfd_inject` work with `pulse` (raised,
    /// then lowered).
    fn irqfd_deliver(&mut self, gsi: u32, pulse: bool) -> &'static Rule {
        let routes = self.routes_of(gsi);
        let [route] = routes[..] else {
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "irqfd_wakeup",
                    format!("GSI {gsi} has no route: nothing is injected"),
                )
                .source(SRC_WAKEUP)
                .rule(&r::IRQFD_NO_ROUTE),
            );
            return &r::IRQFD_NO_ROUTE;
        };
        match route {
            Route::Irqchip { pin, .. } => {
                let spi = pin + 32;
                if spi >= self.state.config.nr_irqs {
                    self.emit(
                        Hop::new(Layer::Kvm, "vgic_irqfd_set_irq", format!("GSI {gsi} -> pin {pin} = INTID {spi}, beyond nr_irqs: vgic_valid_spi refuses it, nothing is injected"))
                            .source("arch/arm64/kvm/vgic/vgic-irqfd.c: vgic_irqfd_set_irq")
                            .intid(spi)
                            .rule(&r::IRQFD_SPI_INVALID),
                    );
                    return &r::IRQFD_SPI_INVALID;
                }
                self.emit(
                    Hop::new(
                        Layer::Kvm,
                        "vgic_irqfd_set_irq",
                        format!(
                            "GSI {gsi} -> pin {pin} = INTID {spi}: kvm_vgic_inject_irq level 1{} (the path KVM_IRQ_LINE takes, below)",
                            if pulse { ", then 0" } else { "; nothing lowers it" }
                        ),
                    )
                    .source(SRC_WAKEUP)
                    .intid(spi)
                    .rule(&r::IRQFD_SPI),
                );
                self.irq_line(spi, true, None);
                if pulse {
                    self.irq_line(spi, false, None);
                }
                &r::IRQFD_SPI
            }
            Route::Msi { addr, data, devid } => {
                self.emit(
                    Hop::new(Layer::Kvm, "kvm_set_msi", format!("GSI {gsi} -> MSI data {data} to {addr:#x}: the translation KVM_SIGNAL_MSI makes (below)"))
                        .source("arch/arm64/kvm/vgic/vgic-irqfd.c: kvm_arch_set_irq_inatomic (vgic_its_inject_cached_translation), kvm_set_msi")
                        .rule(&r::IRQFD_MSI),
                );
                // kvm_set_msi's result (-ENODEV, blocked, ...) reaches no one.
                let _ = self.signal_msi(addr, devid, data);
                &r::IRQFD_MSI
            }
        }
    }

    /// `read()` of a resample eventfd (non-blocking): its counter, then 0.
    pub fn eventfd_read(&mut self, fd: u32) -> Outcome {
        let n = self
            .live
            .irqfd
            .counts
            .get_mut(&fd)
            .map_or(0, std::mem::take);
        outcome(Op::Read, "eventfd", n, None, vec![&r::IRQFD_RESAMPLE])
    }

    /// `vgic_v3_fold_lr_state` will see `ICH_LR_EOI` on an invalid list
    /// register of level-triggered SPI `intid` (a hook of `deactivate_lr`).
    pub(crate) fn irqfd_lr_eoi(&mut self, intid: u32) {
        if intid >= 32 && intid < self.state.config.nr_irqs {
            self.live.irqfd.acked.push(intid);
        }
    }

    /// The fold's `kvm_notify_acked_irq` -> `irqfd_resampler_ack` for each
    /// SPI deactivated since the last fold (a hook of `settle`).
    pub(crate) fn irqfd_notify_acked(&mut self) {
        let acked = std::mem::take(&mut self.live.irqfd.acked);
        for intid in acked {
            let Some(gsi) = self.gsi_of_pin(intid - 32) else {
                continue;
            };
            let fds: Vec<u32> = self
                .live
                .irqfd
                .irqfds
                .iter()
                .filter(|i| i.gsi == gsi)
                .filter_map(|i| i.resample_fd)
                .collect();
            if fds.is_empty() {
                continue;
            }
            if let Some(irq) = self.irq_mut(0, intid) {
                irq.line_level = false;
            }
            for f in &fds {
                *self.live.irqfd.counts.entry(*f).or_insert(0) += 1;
            }
            self.emit(
                Hop::new(
                    Layer::Kvm,
                    "irqfd_resampler_ack",
                    format!(
                        "the guest EOI'd INTID {intid} (ICH_LR_EOI, kvm_notify_acked_irq for GSI {gsi}): its line is lowered and resample eventfd {} signalled",
                        fds.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                    ),
                )
                .source("arch/arm64/kvm/vgic/vgic-v3.c: vgic_v3_fold_lr_state (lr_signals_eoi_mi); virt/kvm/eventfd.c: irqfd_resampler_ack")
                .intid(intid)
                .rule(&r::IRQFD_RESAMPLE),
            );
        }
    }
}
