# bench/lib.sh — sourced by the benchmarks (lifecycle.sh, run.sh, pull.sh, push.sh): checks of
# their common options, the scratch file system every store of a run lives on, and helpers (jobs,
# directories, podman's storage driver).
# The caller defines die() and the globals FS (tmpfs|ext4) and WORK (an empty directory);
# mount_scratch sets LOOP_IMG, LOOP_DEV, MOUNTED and FS_DESC, which unmount_scratch undoes.
# shellcheck shell=bash disable=SC2034  # FS_DESC and LOOP_* are the callers' globals

# check_count VALUE FLAG: VALUE is a positive whole number.
check_count() {
    [[ $1 =~ ^[1-9][0-9]*$ ]] || die "$2 wants a positive number"
}

# check_fs: -f named one of the two file systems.
check_fs() {
    [[ $FS == tmpfs || $FS == ext4 ]] || die "-f wants tmpfs or ext4"
}

# mount_scratch TMPFS_SIZE EXT4_SIZE NAME [MKFS_OPTION…]: mounts on $WORK a tmpfs of TMPFS_SIZE,
# or (FS=ext4) a journaled ext4 on a loop device backed by a sparse file of EXT4_SIZE in
# /var/tmp named after NAME; the MKFS_OPTIONs are tried first and dropped if mkfs refuses them.
# The mount is private: namespace files bound below it must not sit on a shared mount.
mount_scratch() {
    local tmpfs_size=$1 ext4_size=$2 name=$3 backing
    shift 3
    LOOP_IMG=""
    LOOP_DEV=""
    MOUNTED=0
    if [[ $FS == tmpfs ]]; then
        mount -t tmpfs -o "size=$tmpfs_size,mode=0755" tmpfs "$WORK"
        FS_DESC="tmpfs (size=$tmpfs_size, RAM-backed; fsync/syncfs are no-ops)"
    else
        LOOP_IMG=$(mktemp "/var/tmp/$name-ext4.XXXXXX.img")
        truncate -s "$ext4_size" "$LOOP_IMG"
        mkfs.ext4 -q -F "$@" "$LOOP_IMG" 2>/dev/null || mkfs.ext4 -q -F "$LOOP_IMG"
        LOOP_DEV=$(losetup --find --show "$LOOP_IMG")
        mount -t ext4 "$LOOP_DEV" "$WORK"
        backing=$(findmnt -n -o FSTYPE -T /var/tmp)
        FS_DESC="ext4 (journaled, data=ordered) on $LOOP_DEV, a sparse file on the host's $backing /var/tmp"
    fi
    MOUNTED=1
    mount --make-private "$WORK"
}

# unmount_scratch: unmounts what is still mounted below $WORK (deepest first), then $WORK, and
# removes the loop device, its file and $WORK. For cleanup traps: never fails.
unmount_scratch() {
    if ((${MOUNTED:-0})); then
        findmnt -rn -o TARGET | awk -v p="$WORK" 'index($0, p "/") == 1' | sort -r |
            while read -r m; do umount -l "$m"; done
        umount "$WORK" || umount -l "$WORK"
    fi
    [[ -n ${LOOP_DEV:-} ]] && losetup -d "$LOOP_DEV"
    [[ -n ${LOOP_IMG:-} ]] && rm -f "$LOOP_IMG"
    rmdir "$WORK" 2>/dev/null || true
}

# `wait` on each background job so that any failure fails the run (plain `wait` ignores them).
wait_all() {
    local pid rc=0
    for pid in $(jobs -p); do wait "$pid" || rc=1; done
    return $rc
}

# Unmounts whatever is mounted below $1 (podman's overlay driver leaves mounts), then removes it.
reset_dir() {
    local dir=$1 m
    [[ -e $dir ]] || return 0
    while read -r m; do
        if [[ -n $m ]]; then umount -l "$m" 2>/dev/null || true; fi
    done < <(findmnt -rn -o TARGET | awk -v p="$dir" 'index($0, p "/") == 1 || $0 == p' | sort -r)
    rm -rf "$dir"
}

# pick_podman_driver IMAGE: sets PODMAN_DRIVER for this scratch file system: overlay when a probe
# pull of IMAGE into $WORK/podman-probe works with it, else vfs (and says why).
pick_podman_driver() {
    local probe=$WORK/podman-probe
    PODMAN_DRIVER=overlay
    if ! podman --root "$probe/root" --runroot "$probe/run" --storage-driver overlay \
        --events-backend none --cgroup-manager cgroupfs \
        pull -q --tls-verify=false "$1" >/dev/null 2>"$WORK/podman-probe.err"; then
        PODMAN_DRIVER=vfs
        echo "podman:     overlay driver failed here ($(tail -1 "$WORK/podman-probe.err")); using vfs"
    fi
    reset_dir "$probe"
}
