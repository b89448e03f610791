// Command init is PID 1 of the initramfs that scripts/emulate-avx512.sh
// boots in Bochs. It mounts /proc, /sys, /dev and /tmp, runs /emulate/prog
// with the NUL-separated arguments in /emulate/args and the extra
// environment in /emulate/env, with stdin, stdout and stderr on the console
// (the serial port), prints
//
//	EMULATOR-EXIT-CODE=<n>
//
// and powers the machine off. The working directory is /emulate/work when
// the script was given a directory to copy there, else /tmp.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

func main() {
	mount("proc", "/proc", "proc", "")
	mount("sysfs", "/sys", "sysfs", "")
	mount("devtmpfs", "/dev", "devtmpfs", "")
	mount("tmpfs", "/tmp", "tmpfs", "mode=1777")
	mount("tmpfs", "/dev/shm", "tmpfs", "mode=1777")

	// Only kernel errors from here on, so the test output stays readable.
	_ = os.WriteFile("/proc/sys/kernel/printk", []byte("3 4 1 3\n"), 0)

	console, err := os.OpenFile("/dev/console", os.O_RDWR, 0)
	if err != nil {
		console, err = os.OpenFile("/dev/ttyS0", os.O_RDWR, 0)
	}
	if err == nil {
		for fd := 0; fd <= 2; fd++ {
			_ = syscall.Dup3(int(console.Fd()), fd, 0)
		}
	}
	code := run()
	fmt.Printf("\nEMULATOR-EXIT-CODE=%d\n", code)
	drain(1)
	syscall.Sync()
	_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	// Still here: the script stops the emulator once it sees the marker.
	for {
		time.Sleep(time.Hour)
	}
}

func run() int {
	start := time.Now()
	args := split("/emulate/args")
	env := append([]string{
		"PATH=/emulate:/",
		"HOME=/tmp",
		"TMPDIR=/tmp",
		"TERM=dumb",
	}, split("/emulate/env")...)
	dir := "/tmp"
	if fi, err := os.Stat("/emulate/work"); err == nil && fi.IsDir() {
		dir = "/emulate/work"
	}
	fmt.Printf("\nEMULATOR-START (boot took %s of emulated time)\n", uptime())
	cmd := exec.Command("/emulate/prog", args...)
	cmd.Args[0] = progName()
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	fmt.Printf("\nEMULATOR-RUN-TIME=%s (emulated)\n", time.Since(start).Round(time.Millisecond))
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Printf("EMULATOR: program killed by signal %v\n", ws.Signal())
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Printf("EMULATOR: cannot run program: %v\n", err)
	return 127
}

func progName() string {
	b, err := os.ReadFile("/emulate/name")
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return "/emulate/prog"
	}
	return string(bytes.TrimSpace(b))
}

// split reads a file of NUL-terminated strings.
func split(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func uptime() string {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0] + "s"
}

func mount(src, dst, fstype, data string) {
	_ = os.MkdirAll(dst, 0o755)
	if err := syscall.Mount(src, dst, fstype, 0, data); err != nil {
		fmt.Fprintf(os.Stderr, "init: mount %s on %s: %v\n", fstype, dst, err)
	}
}

// drain waits until the serial port has sent everything written to fd
// (tcdrain), so the marker is out before the power goes.
func drain(fd int) {
	const tcsbrk = 0x5409
	_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tcsbrk, 1)
}
