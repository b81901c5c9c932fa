#!/usr/bin/env bash
# Benchmark: cross-mount moves through libvaultshim.so vs coreutils mv.
#
#   bench/shim/run.sh [BUILD_DIR]          (root; default BUILD_DIR=build)
#
# Runs in a private mount namespace. For each setup — two tmpfs mounts; two
# bind mounts of one ext4 file system (loop image); two bind mounts of one
# xfs file system with reflink (loop image) — it moves a 1 GiB file, a
# 10,000-file tree and a 50,000-file tree with `mv` (the anchor, which never fsyncs) and with the same
# `mv` under LD_PRELOAD=libvaultshim.so (its renameat2 gets EXDEV and the shim
# does the journaled, fsynced move, so mv never copies itself). `mv+sync` is
# mv followed by sync(1): the anchor with the same durability.
# Prints a Markdown table (median of REPS interleaved runs, default 7, with the range). SETUPS="tmpfs ext4 xfs"
# selects setups (also ext4-ram: the ext4 image in a tmpfs, a disk faster than the copy),
# WORKLOADS="big tree tree50k" the workloads. The loop devices use direct I/O
# (LOOP_DIRECT_IO=off for the old buffered setup). SHIM_BEFORE=path/to/other/libvaultshim.so
# adds that build of the shim to every interleaved round, for a before/after comparison.
# PAGE_REPORTING_DELAY_MS=<ms> (on a VM whose kernel has the page_reporting module parameter
# min_free_ms) keeps freed memory in the guest that long before it is reported to the host, so a
# copy does not pay a host page fault per page it allocates; the old value is restored at exit.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
reps=${REPS:-7}
shim=$build/lib/libvaultshim.so
before=${SHIM_BEFORE:-}
[ -z "$before" ] || [ -f "$before" ] || { echo "run.sh: SHIM_BEFORE=$before missing" >&2; exit 2; }
[ -f "$shim" ] || { echo "run.sh: $shim missing (build first)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (mount namespaces, loop devices)" >&2; exit 2; }
if [ -z "${VAULTD_BENCH_NS:-}" ]; then
  exec unshare -m --propagation private env VAULTD_BENCH_NS=1 "$0" "$@"
fi

work=$(mktemp -d /tmp/vaultd-bench-shim.XXXXXX)
cleanup() {
  grep -o " ${work}[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  for d in "${loops[@]}"; do losetup -d "$d" 2>/dev/null || true; done
  rm -rf "$work"
}
loops=()
reporting=/sys/module/page_reporting/parameters/min_free_ms
reporting_old=
if [ -n "${PAGE_REPORTING_DELAY_MS:-}" ]; then
  [ -w "$reporting" ] || { echo "run.sh: $reporting missing: no page reporting delay here" >&2; exit 2; }
  reporting_old=$(cat "$reporting")
  echo "$PAGE_REPORTING_DELAY_MS" > "$reporting"
fi
restore() {
  [ -z "$reporting_old" ] || echo "$reporting_old" > "$reporting"
  cleanup
}
trap restore EXIT
mkdir -p "$work/ref" "$work/journal" "$work/vault"
mount -t tmpfs -o size=4g tmpfs "$work/ref"

workloads=${WORKLOADS:-big tree tree50k}
echo "preparing the workloads ($workloads)..." >&2
case " $workloads " in *" big "*) head -c 1073741824 /dev/urandom > "$work/ref/big" ;; esac
mktree() {  # mktree NAME FOLDERS: FOLDERS folders of 100 notes of 200-8000 random bytes
python3 - "$work/ref/$1" "$2" <<'PY'
import os, sys, random
root = sys.argv[1]
rnd = random.Random(7)
for d in range(int(sys.argv[2])):
    p = os.path.join(root, "folder%03d" % d)
    os.makedirs(p)
    for f in range(100):
        with open(os.path.join(p, "note%03d.md" % f), "wb") as fh:
            fh.write(rnd.randbytes(rnd.randint(200, 8000)))
PY
}
case " $workloads " in *" tree "*) mktree tree 100 ;; esac
case " $workloads " in *" tree50k "*) mktree tree50k 500 ;; esac

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { sort -n | awk '{a[NR]=$1} END {printf "%.2f–%.2f", a[1], a[NR]}'; }

# measure SRCDIR DSTDIR NAME MODE -> seconds (prepares the source first, not timed)
measure() {
  local src=$1 dst=$2 name=$3 mode=$4 t0 t1
  rm -rf "${src:?}/$name" "${dst:?}/$name"
  cp -a --reflink=never "$work/ref/$name" "$src/$name"
  sync
  # Every run starts from the same memory state: drop the clean cache, then
  # read the source back in so that no run reads from the disk.
  echo 3 > /proc/sys/vm/drop_caches
  find "$src/$name" -type f -exec cat {} + > /dev/null
  t0=$(now)
  case $mode in
    mv) mv "$src/$name" "$dst/$name" ;;
    mvsync) mv "$src/$name" "$dst/$name"; sync ;;
    shim) LD_PRELOAD=$shim VAULTD_SHIM_ROOTS=$work/vault VAULTD_JOURNAL_DIR=$work/journal \
            mv "$src/$name" "$dst/$name" ;;
    before) LD_PRELOAD=$before VAULTD_SHIM_ROOTS=$work/vault VAULTD_JOURNAL_DIR=$work/journal \
            mv "$src/$name" "$dst/$name" ;;
  esac
  t1=$(now)
  if [ -e "$src/$name" ] || [ ! -e "$dst/$name" ]; then
    echo "run.sh: $mode did not move $name" >&2
    exit 1
  fi
  echo "$t1 - $t0" | bc -l
}

row() {
  local label=$1 src=$2 dst=$3 name=$4 what=$5
  local mv=() mvs=() sh=() bf=()
  # Interleaved, so all see the same background load (the machine is shared).
  for _ in $(seq "$reps"); do
    mv+=("$(measure "$src" "$dst" "$name" mv)")
    mvs+=("$(measure "$src" "$dst" "$name" mvsync)")
    sh+=("$(measure "$src" "$dst" "$name" shim)")
    [ -z "$before" ] || bf+=("$(measure "$src" "$dst" "$name" before)")
  done
  local m s x m1 x1
  m=$(printf '%s\n' "${mv[@]}" | median)
  s=$(printf '%s\n' "${mvs[@]}" | median)
  x=$(printf '%s\n' "${sh[@]}" | median)
  m1=$(printf '%s\n' "${mv[@]}" | sort -n | head -1)
  x1=$(printf '%s\n' "${sh[@]}" | sort -n | head -1)
  printf '| %s | %s | %.3f (%s) | %.3f | %.3f (%s) | %.2f× | %.2f× | %.2f× |\n' "$label" "$what" \
    "$m" "$(printf '%s\n' "${mv[@]}" | range)" "$s" "$x" "$(printf '%s\n' "${sh[@]}" | range)" \
    "$(echo "$x / $m" | bc -l)" "$(echo "$x1 / $m1" | bc -l)" "$(echo "$x / $s" | bc -l)"
  if [ -n "$before" ]; then
    local b
    b=$(printf '%s\n' "${bf[@]}" | median)
    printf '| %s | %s | the SHIM_BEFORE build: %.3f (%s) | this shim / that one: %.2f× |\n' "$label" \
      "$what" "$b" "$(printf '%s\n' "${bf[@]}" | range)" "$(echo "$x / $b" | bc -l)"
  fi
}

mkloop() {  # mkloop NAME IMAGE_DIR MKFS... -> mounts an image at $work/NAME
  local name=$1 imgdir=$2 dev; shift 2
  local img=$imgdir/$name.img
  # Written in full first: a sparse (or only fallocated) image makes the
  # loop device allocate (or convert) blocks in /tmp's file system on a first
  # write, which made some runs 5x slower than others.
  dd if=/dev/zero of="$img" bs=16M count=256 oflag=direct status=none
  "$@" "$img" >/dev/null
  mkdir -p "$work/$name"
  # Direct I/O, so the loop device writes to the disk like a disk does. A
  # buffered loop device puts a second page cache (the image file's) under the
  # file system, and an fsync then also copies everything into it.
  dev=$(losetup --direct-io="${LOOP_DIRECT_IO:-on}" -f --show "$img")
  loops+=("$dev")
  mount "$dev" "$work/$name"
  mkdir -p "$work/$name/x" "$work/$name/y" "$work/vault/$name-x" "$work/vault/$name-y"
  mount --bind "$work/$name/x" "$work/vault/$name-x"
  mount --bind "$work/$name/y" "$work/vault/$name-y"
}

mkdir -p "$work/vault/tmpfs-a" "$work/vault/tmpfs-b"
mount -t tmpfs -o size=3g tmpfs "$work/vault/tmpfs-a"
mount -t tmpfs -o size=3g tmpfs "$work/vault/tmpfs-b"
setups=${SETUPS:-tmpfs ext4 xfs}
case " $setups " in *" ext4 "*) mkloop ext4 "$work" mkfs.ext4 -q -F ;; esac
case " $setups " in *" xfs "*) mkloop xfs "$work" mkfs.xfs -q -f -m reflink=1 ;; esac
case " $setups " in
  *" ext4-ram "*)  # the same ext4, its image in RAM: a disk that is never the bottleneck
    mkdir -p "$work/ram"
    mount -t tmpfs -o size=5g tmpfs "$work/ram"
    mkloop ext4-ram "$work/ram" mkfs.ext4 -q -F ;;
esac

echo "| setup | workload | mv (s), median (min–max) | mv+sync (s) | shim (s), median (min–max) | shim / mv (medians) | shim / mv (fastest runs) | shim / mv+sync |"
echo "|---|---|---|---|---|---|---|---|"
for setup in $setups; do
  case $setup in
    tmpfs) s=$work/vault/tmpfs-a; d=$work/vault/tmpfs-b; label="two tmpfs mounts" ;;
    ext4) s=$work/vault/ext4-x; d=$work/vault/ext4-y; label="two bind mounts of one ext4 (loop)" ;;
    ext4-ram) s=$work/vault/ext4-ram-x; d=$work/vault/ext4-ram-y
      label="two bind mounts of one ext4 (loop, image in RAM)" ;;
    xfs) s=$work/vault/xfs-x; d=$work/vault/xfs-y; label="two bind mounts of one xfs, reflink=1 (loop)" ;;
  esac
  for w in $workloads; do
    case $w in
      big) row "$label" "$s" "$d" big "1 GiB file" ;;
      tree) row "$label" "$s" "$d" tree "10,000 files (100 dirs)" ;;
      tree50k) row "$label" "$s" "$d" tree50k "50,000 files (500 dirs)" ;;
    esac
  done
done
