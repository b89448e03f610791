#!/usr/bin/env bash
# Runs a statically linked Linux amd64 program (typically a Go test binary) on
# an emulated AVX-512 CPU, to check the AVX-512 kernels on machines without
# AVX-512. It boots a small Linux kernel in Bochs (CPU model corei7_skylake_x)
# from an El Torito ISO (isolinux) with a tiny initramfs whose /init
# (scripts/emulate-avx512/init.go) runs the program with its arguments on the
# serial console and powers off. The program's output comes out here; the
# script exits with the program's exit status (124 on a timeout, 125 when
# the emulator fails).
#
#   CGO_ENABLED=0 go test -c -o /tmp/kernel.test ./internal/kernel/
#   scripts/emulate-avx512.sh /tmp/kernel.test -test.v -test.run 'TestGemmSizes|TestVectorKernels'
#
# Options, before the program:
#   --timeout SECS   wall-clock limit for boot plus run (default 3600)
#   --cpu MODEL      Bochs CPU model (default corei7_skylake_x: AVX-512 F, CD, BW,
#                    DQ, VL; Bochs's tigerlake model hangs Linux in its PMU setup)
#   --mem MB         guest memory (default 1024)
#   --ips N          Bochs instructions per emulated second (default 60000000)
#   --env KEY=VALUE  environment variable for the program (repeatable)
#   --dir DIR        copy DIR into the guest as the program's working
#                    directory (e.g. the package folder, for testdata/);
#                    otherwise it runs in /tmp (a tmpfs)
#   --cmdline ARGS   extra kernel command-line arguments
#   --kernel FILE    boot this bzImage instead of the cached small kernel
#                    (it needs a built-in serial console, initramfs, devtmpfs)
#   --keep           keep the work folder (ISO, bochsrc, logs) and say where
#   --raw            print the whole serial log, boot messages included
#
# The first run installs bochs, bochsbios, vgabios, isolinux, syslinux-common,
# xorriso and cpio with apt-get (as root, or through sudo), and builds a
# small kernel from Debian's linux-source package (tinyconfig plus
# emulate-avx512/kernel.config; needs gcc, make, flex, bison, bc, lz4 and
# libelf-dev, which it installs too; a few minutes), cached in
# ~/.cache/moxing/bochs; later runs reuse it. Bochs is slow (some tens of
# millions of instructions a second): the program runs a hundred or more
# times slower than natively. Bochs uses one CPU core.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/moxing/bochs
timeout=3600
cpu=corei7_skylake_x
mem=1024
ips=60000000
keep=0
raw=0
extra_cmdline=
kernel=
envs=()
workdir_src=

die() { echo "emulate-avx512: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 125; }

while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) timeout=$2; shift 2 ;;
	--cpu) cpu=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--ips) ips=$2; shift 2 ;;
	--env) envs+=("$2"); shift 2 ;;
	--dir) workdir_src=$2; shift 2 ;;
	--cmdline) extra_cmdline=$2; shift 2 ;;
	--kernel) kernel=$(realpath "$2"); shift 2 ;;
	--keep) keep=1; shift ;;
	--raw) raw=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done
[[ $# -ge 1 ]] || usage
prog=$1
shift
[[ -f $prog && -x $prog ]] || die "$prog is not an executable file"
if command -v readelf >/dev/null && readelf -l "$prog" 2>/dev/null | grep -q 'INTERP'; then
	die "$prog is dynamically linked; build it with CGO_ENABLED=0"
fi
[[ -z $workdir_src || -d $workdir_src ]] || die "--dir $workdir_src is not a folder"

log() { echo "emulate-avx512: $*" >&2; }

# --- What the host needs -----------------------------------------------------

isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
ldlinux_c32=/usr/lib/syslinux/modules/bios/ldlinux.c32
bios=/usr/share/bochs/BIOS-bochs-latest
vgabios=/usr/share/vgabios/vgabios.bin

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

need=()
command -v bochs >/dev/null || need+=(bochs)
[[ -f $bios ]] || need+=(bochsbios)
[[ -f $vgabios ]] || need+=(vgabios)
[[ -f $isolinux_bin ]] || need+=(isolinux)
[[ -f $ldlinux_c32 ]] || need+=(syslinux-common)
command -v xorriso >/dev/null || need+=(xorriso)
command -v cpio >/dev/null || need+=(cpio)
command -v go >/dev/null || die "needs the go command, to build the guest's /init"
if [[ ${#need[@]} -gt 0 ]]; then
	log "installing ${need[*]}"
	as_root apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
		{ as_root apt-get update >&2 && as_root apt-get install -y --no-install-recommends "${need[@]}" >&2; } ||
		die "cannot install ${need[*]}"
fi

# A small kernel, built once from Debian's linux-source package with
# tinyconfig plus emulate-avx512/kernel.config and cached: Debian's stock
# kernel spends minutes of Bochs time on xz decompression and initcalls.
mkdir -p "$cache"
if [[ -z $kernel ]]; then
	srcpkg=$(apt-cache depends linux-source 2>/dev/null | awk '/Depends: linux-source-[0-9]/ { print $2; exit }')
	if [[ -z $srcpkg ]]; then
		as_root apt-get update >&2 || true
		srcpkg=$(apt-cache depends linux-source 2>/dev/null | awk '/Depends: linux-source-[0-9]/ { print $2; exit }')
	fi
	[[ -n $srcpkg ]] || die "cannot find the package linux-source depends on (apt-get update?)"
	srcver=$(apt-cache policy "$srcpkg" | awk '/Candidate:/ { print $2; exit }')
	confsum=$(cat "$here/emulate-avx512/kernel.config" | sha256sum | cut -c1-12)
	kernel=$cache/bzImage-$srcver-$confsum
	if [[ ! -s $kernel ]]; then
		kneed=()
		for p in gcc make flex bison bc lz4 xz-utils libelf-dev libc6-dev; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || kneed+=("$p")
		done
		if [[ ${#kneed[@]} -gt 0 ]]; then
			log "installing ${kneed[*]}, to build the kernel"
			as_root apt-get install -y --no-install-recommends "${kneed[@]}" >&2 ||
				{ as_root apt-get update >&2 && as_root apt-get install -y --no-install-recommends "${kneed[@]}" >&2; } ||
				die "cannot install ${kneed[*]}"
		fi
		log "building a small kernel from $srcpkg $srcver (once; a few minutes)"
		kb=$(mktemp -d "$cache/build.XXXXXX")
		chmod 777 "$kb" # apt-get download drops privileges to _apt
		(cd "$kb" && apt-get download "$srcpkg=$srcver" >"$kb/download.log" 2>&1) ||
			{ cat "$kb/download.log" >&2; rm -rf "$kb"; die "cannot download $srcpkg"; }
		mkdir "$kb/src"
		dpkg-deb --fsys-tarfile "$kb"/*.deb | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
			xz -dc | tar -x --strip-components=1 -C "$kb/src"
		rm -f "$kb"/*.deb
		if ! (
			cd "$kb/src" &&
				make tinyconfig &&
				scripts/kconfig/merge_config.sh -m .config "$here/emulate-avx512/kernel.config" &&
				make olddefconfig &&
				for o in $(grep -oE '^CONFIG_[A-Z0-9_]+=y' "$here/emulate-avx512/kernel.config" | cut -d= -f1); do
					grep -q "^$o=y" .config || { echo "kernel config: $o did not stick" >&2; exit 1; }
				done &&
				make -j"$(nproc)" bzImage
		) >"$kb/build.log" 2>&1; then
			tail -n 30 "$kb/build.log" >&2
			log "kernel build failed; the tree is in $kb"
			exit 125
		fi
		cp "$kb/src/arch/x86/boot/bzImage" "$kernel.tmp"
		cp "$kb/src/.config" "$kernel.config"
		mv "$kernel.tmp" "$kernel"
		rm -rf "$kb"
	fi
fi

# --- The boot ISO --------------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/emulate-avx512.XXXXXX")
bpid=
cleanup() {
	[[ -n $bpid ]] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
	if [[ $keep -eq 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=$work/root
mkdir -p "$root"/{emulate,proc,sys,dev,tmp}
(cd "$here/emulate-avx512" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOFLAGS=-mod=mod GOWORK=off \
	go build -trimpath -ldflags='-s -w' -o "$root/init" .) || die "cannot build the guest's /init"
cp "$prog" "$root/emulate/prog"
basename "$prog" >"$root/emulate/name"
: >"$root/emulate/args"
for a in "$@"; do printf '%s\0' "$a" >>"$root/emulate/args"; done
: >"$root/emulate/env"
for e in ${envs[@]+"${envs[@]}"}; do printf '%s\0' "$e" >>"$root/emulate/env"; done
if [[ -n $workdir_src ]]; then
	cp -a "$workdir_src/." "$root/emulate/work"
fi

iso=$work/iso
mkdir -p "$iso/isolinux"
cp "$isolinux_bin" "$ldlinux_c32" "$iso/isolinux/"
cp "$kernel" "$iso/vmlinuz"
# Uncompressed: unpacking is a copy, decompressing in Bochs is slow.
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --owner=0:0) >"$iso/initrd"

# Kernel command line: serial console, few messages, nothing probed or
# calibrated that need not be (every instruction counts in Bochs).
cmdline=(
	console=ttyS0,115200 quiet loglevel=3
	mitigations=off tsc=reliable no_timer_check
	# Bochs 2.7 gets CPUID leaf 0xD wrong for PKRU (size 0) and for the
	# compacted XSAVE size: without these the kernel disables XSAVE, and
	# with it AVX and AVX-512.
	clearcpuid=pku,xsaves,xsavec
	random.trust_cpu=on
	rdinit=/init
	$extra_cmdline
)
cat >"$iso/isolinux/isolinux.cfg" <<EOF
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd
  APPEND ${cmdline[*]}
EOF
xorriso -as mkisofs -quiet -o "$work/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table -R "$iso" 2>"$work/xorriso.log" ||
	{ cat "$work/xorriso.log" >&2; die "cannot build the ISO"; }
rm -rf "$iso" "$root"

# --- Bochs ---------------------------------------------------------------------

serial=$work/serial.log
: >"$serial"
cat >"$work/bochsrc" <<EOF
plugin_ctrl: biosdev=0, speaker=0, extfpuirq=0, parallel=0, gameport=0, iodebug=0
display_library: rfb, options="timeout=0"
romimage: file=$bios
vgaromimage: file=$vgabios
vga: extension=vbe, update_freq=1
cpu: model=$cpu, count=1, ips=$ips, reset_on_triple_fault=0, ignore_bad_msrs=1
memory: guest=$mem, host=$mem
clock: sync=none, time0=local
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path="$work/boot.iso", status=inserted
ata1: enabled=0
boot: cdrom
floppy_bootsig_check: disabled=1
com1: enabled=1, mode=file, dev="$serial"
mouse: enabled=0
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
EOF

t0=$(date +%s.%N)
log "booting Linux in Bochs ($cpu, ${mem} MB)"
# This bochs has the debugger built in: -rc tells it to start running.
echo c >"$work/debugger.rc"
bochs -q -f "$work/bochsrc" -rc "$work/debugger.rc" </dev/null >"$work/bochs.out" 2>&1 &
bpid=$!

# Stream the program's output (what comes between the markers) as it
# arrives; tail stops soon after Bochs does.
if [[ $raw -eq 1 ]]; then
	tail -n +1 -f --pid="$bpid" "$serial" | tr -d '\r' &
else
	tail -n +1 -f --pid="$bpid" "$serial" | tr -d '\r' |
		awk '
			/^EMULATOR-(EXIT-CODE|RUN-TIME)=/ { on = 0; blank = 0 }
			on && /^$/ { blank++; next }
			on { while (blank > 0) { print ""; blank-- } print; fflush() }
			/^EMULATOR-START/ { on = 1 }' &
fi
streamer=$!

tboot= tend= status= why=
deadline=$(($(date +%s) + timeout))
while kill -0 "$bpid" 2>/dev/null; do
	if [[ -z $tboot ]] && grep -q '^EMULATOR-START' "$serial"; then
		tboot=$(date +%s.%N)
	fi
	# The guest has no ACPI to power off with: once the exit code is out,
	# stop Bochs.
	if grep -q '^EMULATOR-EXIT-CODE=' "$serial"; then
		tend=$(date +%s.%N)
		kill "$bpid" 2>/dev/null || true
		break
	fi
	if grep -q 'Kernel panic' "$serial"; then
		sleep 2
		why=panic
		kill "$bpid" 2>/dev/null || true
		break
	fi
	if [[ $(date +%s) -ge $deadline ]]; then
		why=timeout
		kill "$bpid" 2>/dev/null || true
		break
	fi
	sleep 0.5
done
wait "$bpid" 2>/dev/null || true
bpid=
wait "$streamer" 2>/dev/null || true

status=$(tr -d '\r' <"$serial" | sed -n 's/^EMULATOR-EXIT-CODE=\([0-9]*\).*/\1/p' | tail -n 1)
t1=$(date +%s.%N)
if [[ -z $status ]]; then
	if [[ $raw -eq 0 ]]; then
		echo "--- serial console ---" >&2
		tr -d '\r' <"$serial" | tail -n 60 >&2
	fi
	echo "--- bochs log (tail) ---" >&2
	grep -vE '^\s*$' "$work/bochs.log" 2>/dev/null | tail -n 25 >&2 || true
	tail -n 5 "$work/bochs.out" >&2 || true
	if [[ $why == timeout ]]; then
		log "timed out after ${timeout}s"
		status=124
	else
		log "the emulator stopped without the program's exit code"
		status=125
	fi
fi
awk -v t0="$t0" -v tb="${tboot:-}" -v te="${tend:-$t1}" -v t1="$t1" -v st="$status" 'BEGIN {
	if (tb == "") printf "emulate-avx512: exit status %d; %.0fs in all (never reached the program)\n", st, t1 - t0
	else printf "emulate-avx512: exit status %d; boot %.0fs, program %.0fs, %.0fs in all (wall clock)\n", st, tb - t0, te - tb, t1 - t0
}' >&2
grep -h '^EMULATOR-START\|^EMULATOR-RUN-TIME' "$serial" | tr -d '\r' | sed 's/^/emulate-avx512: guest: /' >&2 || true
exit "$status"
