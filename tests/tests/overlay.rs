//! Overlay mounts in both forms the kernel may take (`lowerdir+` from Linux 6.8, one joined
//! `lowerdir=` through mount(2) on every kernel), on this host's kernel. A kernel that lacks
//! `lowerdir+` (Debian 12's 6.1) runs the same tests in the VM tier, where the append cases say
//! what they skipped.

use std::path::{Path, PathBuf};

use hull_sys::mount::overlay::{self, LowerForm};
use hull_sys::mount::{is_mountpoint, unmount, OverlayUpper};
use hull_tests::{busybox, require_root, Hull};

/// The running kernel's (major, minor).
fn kernel_version() -> (u32, u32) {
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut parts = release.split(['.', '-']).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// `n` lower dirs `l0…`, each holding `layer-<i>` and a `shared` file saying `<i>`; l0 is top-most.
fn make_lowers(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let l = dir.join(format!("l{i}"));
            std::fs::create_dir_all(&l).unwrap();
            std::fs::write(l.join(format!("layer-{i}")), "x").unwrap();
            std::fs::write(l.join("shared"), i.to_string()).unwrap();
            l
        })
        .collect()
}

/// Unmounts the target when the test ends, passing or failing.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        if is_mountpoint(&self.0).unwrap_or(false) {
            let _ = unmount(&self.0, true);
        }
    }
}

/// Mounts `layers` lowers plus an upper in `form`, and checks that every layer shows, the top-most
/// wins, and writes land in the upper dir.
fn stack_of(form: LowerForm, layers: usize) {
    let dir = tempfile::tempdir().unwrap();
    // Deep enough that the layers' full paths (~110 bytes each) would overflow mount(2)'s page.
    let deep = dir.path().join("d".repeat(90));
    let lowers = make_lowers(&deep, layers);
    let upper = OverlayUpper {
        upper: dir.path().join("upper"),
        work: dir.path().join("work"),
    };
    std::fs::create_dir_all(&upper.upper).unwrap();
    std::fs::create_dir_all(&upper.work).unwrap();
    let target = dir.path().join("merged");
    std::fs::create_dir_all(&target).unwrap();
    overlay::mount_overlay_as(form, &lowers, Some(&upper), &target)
        .unwrap_or_else(|e| panic!("{form:?} overlay of {layers} layers: {e}"));
    let _guard = Mounted(target.clone());
    for i in 0..layers {
        assert!(
            target.join(format!("layer-{i}")).exists(),
            "layer {i} missing"
        );
    }
    assert_eq!(std::fs::read_to_string(target.join("shared")).unwrap(), "0");
    std::fs::write(target.join("new"), "written").unwrap();
    assert_eq!(
        std::fs::read_to_string(upper.upper.join("new")).unwrap(),
        "written"
    );
}

#[test]
fn joined_form_mounts_a_stack_longer_than_a_page_of_full_paths() {
    require_root!();
    // 120 full paths of ~110 bytes would be ~13 KiB of options; the /proc/self/fd names fit.
    stack_of(LowerForm::Joined, 120);
}

#[test]
fn joined_form_refuses_a_stack_beyond_the_page_with_a_clear_error() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let lowers = make_lowers(dir.path(), 260);
    let target = dir.path().join("merged");
    std::fs::create_dir_all(&target).unwrap();
    let err = overlay::mount_overlay_as(LowerForm::Joined, &lowers, None, &target).unwrap_err();
    let _guard = Mounted(target.clone());
    assert!(err.to_string().contains("overlay of 260 layers"), "{err}");
    assert!(!is_mountpoint(&target).unwrap());
}

#[test]
fn append_form_where_the_kernel_has_it() {
    require_root!();
    if kernel_version() < (6, 8) {
        eprintln!(
            "skipped: lowerdir+ mounts (kernel {:?} < 6.8)",
            kernel_version()
        );
        return;
    }
    stack_of(LowerForm::Append, 300);
}

#[test]
fn the_probe_matches_the_kernel_version() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let want = if kernel_version() >= (6, 8) {
        LowerForm::Append
    } else {
        LowerForm::Joined
    };
    assert_eq!(overlay::probe_lower_form(dir.path()), want);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "probe left files"
    );
}

#[test]
fn hull_run_works_with_the_joined_form_forced() {
    require_root!();
    let h = Hull::new();
    let out = h
        .command(&["run", "--rm", &busybox(), "cat", "/proc/self/mountinfo"])
        .env(overlay::OVERRIDE_ENV, "joined")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = text
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / in mountinfo:\n{text}"));
    assert!(root.contains("overlay"), "{root}");
    assert!(root.contains("lowerdir=/proc/self/fd/"), "{root}");
}
