//! The lease guard: whether this process may still change anything.
//!
//! A backend that holds an environment's lock installs its [`Lease`] in a
//! [`Guard`] for as long as it holds it. Everything that changes AWS asks
//! the guard first: the executor before it starts each operation, and the
//! AWS clients (an SDK interceptor in drctl-aws) before every request that
//! is not a read. A run whose lock was taken over, force-unlocked or whose
//! lease could not be renewed in time therefore stops changing AWS, not
//! only writing state. The guard knows nothing about AWS: a lease is
//! anything that can say whether it is still held.
//!
//! [`Guard::process`] is the one the binary uses (its backend, its AWS
//! clients and its executor share it); a test that hosts several runs in
//! one process gives each its own.
//!
//! Leases are timed with a [`Clock`] that counts time the machine spent
//! suspended ([`BootClock`]): a laptop that slept through its lease wakes
//! up knowing the lease is gone.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::lock::LeaseLost;

/// A held lock that can say whether it is still this process's.
pub trait Lease: Send + Sync {
    /// `Ok` while the lock is held and its lease has time left; must not
    /// block on I/O for long (it runs before every mutating AWS request).
    fn check(&self) -> Result<(), LeaseLost>;
}

/// The leases this process holds; `check` fails if any was lost.
#[derive(Clone, Default)]
pub struct Guard {
    leases: Arc<Mutex<Installed>>,
}

#[derive(Default)]
struct Installed {
    next: u64,
    leases: Vec<(u64, Arc<dyn Lease>)>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.leases.lock().map_or(0, |l| l.leases.len());
        write!(f, "lease guard ({n} installed)")
    }
}

impl Guard {
    /// A guard of its own (tests that run several holders in one process).
    pub fn new() -> Self {
        Self::default()
    }

    /// The process's guard: what the binary's backend installs in and its
    /// executor and AWS clients check.
    pub fn process() -> &'static Guard {
        static PROCESS: OnceLock<Guard> = OnceLock::new();
        PROCESS.get_or_init(Guard::new)
    }

    /// Installs `lease` until the returned handle is dropped (the lock is
    /// released).
    pub fn install(&self, lease: Arc<dyn Lease>) -> InstalledLease {
        let mut installed = self.leases.lock().expect("lease guard");
        let id = installed.next;
        installed.next += 1;
        installed.leases.push((id, lease));
        InstalledLease {
            guard: self.clone(),
            id,
        }
    }

    /// `Ok` unless a lease installed here was lost; with none installed
    /// (no lock held, e.g. `plan`), there is nothing to lose.
    pub fn check(&self) -> Result<(), LeaseLost> {
        let leases: Vec<Arc<dyn Lease>> = self
            .leases
            .lock()
            .expect("lease guard")
            .leases
            .iter()
            .map(|(_, l)| Arc::clone(l))
            .collect();
        leases.iter().try_for_each(|l| l.check())
    }
}

/// A lease installed in a [`Guard`]; removed when dropped.
#[must_use = "the lease is uninstalled when this is dropped"]
pub struct InstalledLease {
    guard: Guard,
    id: u64,
}

impl std::fmt::Debug for InstalledLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "installed lease {}", self.id)
    }
}

impl Drop for InstalledLease {
    fn drop(&mut self) {
        if let Ok(mut installed) = self.guard.leases.lock() {
            installed.leases.retain(|(id, _)| *id != self.id);
        }
    }
}

/// Time since some fixed point, for timing leases.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Duration;
}

/// The clock leases are timed with: on Linux `CLOCK_BOOTTIME`, which keeps
/// counting while the machine is suspended (`CLOCK_MONOTONIC`, behind
/// `std::time::Instant`, stops, so a machine that slept through its lease
/// would wake up believing it still held it). Elsewhere `Instant`, which on
/// macOS and Windows may not count sleep either (docs/state-format.md).
#[derive(Clone, Copy, Debug, Default)]
pub struct BootClock;

impl Clock for BootClock {
    fn now(&self) -> Duration {
        boot_time()
    }
}

/// The shared [`BootClock`].
pub fn boot_clock() -> Arc<dyn Clock> {
    static CLOCK: OnceLock<Arc<dyn Clock>> = OnceLock::new();
    Arc::clone(CLOCK.get_or_init(|| Arc::new(BootClock)))
}

/// Time since boot, suspend included (`CLOCK_BOOTTIME`).
#[cfg(target_os = "linux")]
fn boot_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    // CLOCK_BOOTTIME exists since Linux 2.6.39; it cannot fail with a valid
    // pointer, and a lease timed with a clock that stops in suspend would
    // be unsafe, so there is no silent fallback.
    assert_eq!(rc, 0, "clock_gettime(CLOCK_BOOTTIME) failed");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Elsewhere: a monotonic clock from the first reading.
#[cfg(not(target_os = "linux"))]
fn boot_time() -> Duration {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A lease a test loses at will.
    pub(crate) struct Switch(pub AtomicBool);

    impl Lease for Switch {
        fn check(&self) -> Result<(), LeaseLost> {
            if self.0.load(Ordering::SeqCst) {
                Err(LeaseLost {
                    env: "dev".into(),
                    location: "test".into(),
                    what: "taken over by a test".into(),
                })
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn a_guard_fails_while_an_installed_lease_is_lost() {
        let guard = Guard::new();
        assert!(guard.check().is_ok(), "nothing installed, nothing lost");
        let held = Arc::new(Switch(AtomicBool::new(false)));
        let other = Arc::new(Switch(AtomicBool::new(false)));
        let installed = guard.install(held.clone());
        let _other = guard.install(other);
        assert!(guard.check().is_ok());
        held.0.store(true, Ordering::SeqCst);
        let lost = guard.check().unwrap_err();
        assert!(lost.to_string().contains("taken over by a test"), "{lost}");
        // Released: the lock is no longer this run's to lose.
        drop(installed);
        assert!(guard.check().is_ok());
        // Guards are independent.
        assert!(Guard::new().check().is_ok());
    }

    /// The lease clock counts time the machine was suspended: it reads
    /// `CLOCK_BOOTTIME`, which is what /proc/uptime shows (the kernel's
    /// boot-based time). `Instant` (`CLOCK_MONOTONIC`) would stop while
    /// suspended; a clock counted from process start would read seconds.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_lease_clock_is_the_boot_clock_that_counts_suspend() {
        let uptime = || -> f64 {
            let text = std::fs::read_to_string("/proc/uptime").unwrap();
            text.split_whitespace().next().unwrap().parse().unwrap()
        };
        let before = uptime();
        let now = BootClock.now().as_secs_f64();
        let after = uptime();
        assert!(
            now >= before - 0.5 && now <= after + 0.5,
            "boot clock {now} s, /proc/uptime {before}..{after} s"
        );
    }
}
